// Which cgroup hierarchies the host has, from mountinfo text (testable with
// any text) or, for a directory that is not itself a cgroup mount (a fake tree
// in a temp dir, or a subtree of a real hierarchy), from what is in it.
import { realpathSync } from "node:fs";
import { exists, readText, subdirs } from "./fs.ts";
import type { CgroupLayout, Hierarchy, LayoutInfo } from "./types.ts";

/** mount options of a v1 cgroup mount that are not controller names */
const NOT_CONTROLLERS = new Set(["rw", "ro", "relatime", "noatime", "nosuid", "nodev", "noexec", "clone_children", "xattr", "noprefix", "cpuset_v2_mode", "favordynmods", "nsdelegate"]);

/** mountinfo escapes space, tab, newline and backslash as \ooo */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** The cgroup mounts in /proc/PID/mountinfo text (only those at or below `under`); the first mount of each hierarchy wins. */
export function parseMountinfo(text: string, under?: string): Hierarchy[] {
  const u = under === undefined ? undefined : under.replace(/\/+$/, "") || "/";
  const out: Hierarchy[] = [];
  const seen = new Set<string>();
  for (const line of text.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(" ");
    const post = line.slice(sep + 3).split(" ");
    const fstype = post[0];
    if (fstype !== "cgroup" && fstype !== "cgroup2") continue;
    const root = unescape(pre[3] ?? "/");
    const mountpoint = unescape(pre[4] ?? "");
    if (!mountpoint) continue;
    if (u !== undefined && u !== "/" && mountpoint !== u && !mountpoint.startsWith(`${u}/`)) continue;
    if (fstype === "cgroup2") {
      if (seen.has("")) continue;
      seen.add("");
      out.push({ mountpoint, controllers: [], root, unified: true });
      continue;
    }
    const controllers = (post[2] ?? "").split(",").filter((o) => o && !NOT_CONTROLLERS.has(o) && !o.startsWith("release_agent="));
    const id = [...controllers].sort().join(",");
    if (!controllers.length || seen.has(id)) continue;
    seen.add(id);
    out.push({ mountpoint, controllers, root, unified: false });
  }
  return out;
}

/**
 * Hierarchies found by looking into a directory: a unified hierarchy (it has
 * cgroup.controllers) or a v1 root whose subdirectories are hierarchies (they
 * have `tasks`), named after their controllers ("cpu,cpuacct"; "systemd" is
 * the named hierarchy name=systemd); symlinked aliases count once.
 */
export function probeTree(dir: string): Hierarchy[] {
  if (exists(`${dir}/cgroup.controllers`) && !exists(`${dir}/tasks`)) return [{ mountpoint: dir, controllers: [], root: "/", unified: true }];
  const out: Hierarchy[] = [];
  const seen = new Set<string>();
  for (const name of subdirs(dir).sort()) {
    const p = `${dir}/${name}`;
    let real: string;
    try {
      real = realpathSync(p);
    } catch {
      continue;
    }
    if (seen.has(real)) continue;
    if (exists(`${p}/cgroup.controllers`) && !exists(`${p}/tasks`)) {
      seen.add(real);
      out.push({ mountpoint: p, controllers: [], root: "/", unified: true });
    } else if (exists(`${p}/tasks`)) {
      seen.add(real);
      const base = real.slice(real.lastIndexOf("/") + 1);
      const controllers = base === "systemd" ? ["name=systemd"] : base.split(",");
      out.push({ mountpoint: p, controllers, root: "/", unified: false });
    }
  }
  return out;
}

export function layoutOf(hierarchies: Hierarchy[]): LayoutInfo {
  const v1Controllers: Record<string, string> = {};
  let unified: string | undefined;
  for (const h of hierarchies) {
    if (h.unified) unified ??= h.mountpoint;
    else for (const c of h.controllers) v1Controllers[c] ??= h.mountpoint;
  }
  const real = Object.keys(v1Controllers).filter((c) => !c.startsWith("name="));
  const layout: CgroupLayout = real.length === 0 && unified ? "v2" : unified ? "hybrid" : "v1";
  const unifiedControllers = unified ? (readText(`${unified}/cgroup.controllers`) ?? "").split(/\s+/).filter(Boolean) : [];
  return { layout, v1Controllers, unified, unifiedControllers, hierarchies };
}

/**
 * The cgroup layout. Without arguments: this host's, from /proc/self/mountinfo.
 * `root`: only hierarchies mounted at or below that directory, or, when none
 * is, what the directory itself holds (a fake tree, or a subtree of a real
 * hierarchy such as /sys/fs/cgroup/unified/test). `mountinfo`: parse this
 * text instead of the host's.
 */
export function detectLayout(root?: string, mountinfo?: string): LayoutInfo {
  const text = mountinfo ?? readText("/proc/self/mountinfo") ?? "";
  let hs = parseMountinfo(text, root);
  if (root !== undefined && !hs.length && mountinfo === undefined) hs = probeTree(root.replace(/\/+$/, "") || "/");
  return layoutOf(hs);
}
