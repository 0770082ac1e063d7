// Where a container's cgroup goes (as LXC 4+ places it): below the caller's
// cgroup base, `lxt.payload.NAME` unless lxc.cgroup.dir / dir.container name
// a path; on collision with a live cgroup NAME-1, NAME-2 ...; a leftover with
// no processes (a crashed run) is taken over.
import { LxtError, StateError } from "../util/errors.ts";
import { exists, procsIn, readText } from "./fs.ts";
import type { CgroupSpec, Hierarchy } from "./types.ts";

export const PAYLOAD_PREFIX = "lxt.payload.";

/** /proc/PID/cgroup text -> [{controller, path}]; the v2 line ("0::/x") has controller "unified". */
export function parseProcCgroup(text: string): { controller: string; path: string }[] {
  const out: { controller: string; path: string }[] = [];
  for (const line of text.split("\n")) {
    const a = line.indexOf(":");
    const b = line.indexOf(":", a + 1);
    if (a < 0 || b < 0) continue;
    const ctrls = line.slice(a + 1, b);
    const path = line.slice(b + 1);
    if (ctrls === "") out.push({ controller: "unified", path });
    else for (const c of ctrls.split(",")) out.push({ controller: c, path });
  }
  return out;
}

/** systemd keeps PID 1 in /init.scope on v2; LXC does not nest containers below it */
function pruneInitScope(p: string): string {
  return p.endsWith("/init.scope") ? p.slice(0, -"/init.scope".length) || "/" : p;
}

/**
 * The directory below which container cgroups go, per hierarchy. `own` is
 * /proc/self/cgroup text, `init` /proc/1/cgroup: as LXC does, root without
 * lxc.cgroup.relative escapes to init's cgroup (the hierarchy's root on a
 * normal host); otherwise the caller's own cgroup is the base.
 */
export function baseDir(h: Hierarchy, cgPaths: { controller: string; path: string }[]): string {
  const key = h.unified ? "unified" : h.controllers[0]!;
  let p = cgPaths.find((c) => c.controller === key)?.path ?? h.root;
  if (h.unified) p = pruneInitScope(p);
  // the mount shows the hierarchy from h.root down: strip that prefix
  if (h.root !== "/" && (p === h.root || p.startsWith(`${h.root}/`))) p = p.slice(h.root.length);
  else if (h.root !== "/") p = "/";
  return `${h.mountpoint}${p === "/" ? "" : p}`.replace(/\/+$/, "") || "/";
}

export function baseCgroupText(spec: CgroupSpec): string {
  const own = !spec.relative && process.getuid?.() === 0 ? readText("/proc/1/cgroup") : undefined;
  return own ?? readText("/proc/self/cgroup") ?? "";
}

/** The container cgroup's path relative to the base, and whether the config chose it. */
export function containerPath(name: string, spec: CgroupSpec): { rel: string; explicit: boolean } {
  if (!name || name.includes("/") || name === "." || name === "..")
    throw new LxtError(`create cgroup for \`${name}\`: not a usable container name`, "container names cannot contain '/'");
  const chosen = spec.dirContainer ?? spec.dir;
  if (chosen === undefined) return { rel: `${PAYLOAD_PREFIX}${name}`, explicit: false };
  const rel = chosen.replace(/^\/+|\/+$/g, "");
  if (!rel || rel.split("/").some((c) => c === ".." || c === "." || c === ""))
    throw new LxtError(`create cgroup for \`${name}\`: lxc.cgroup.dir${spec.dirContainer !== undefined ? ".container" : ""} = ${chosen} is not a relative path below the base cgroup`, "use a path like lxc/web, without '..'");
  const inner = spec.dirContainerInner;
  if (inner !== undefined && (!/^[^/]+$/.test(inner) || inner === ".." || inner === "."))
    throw new LxtError(`create cgroup for \`${name}\`: lxc.cgroup.dir.container.inner = ${spec.dirContainerInner} must be a single directory name`, "e.g. lxc.cgroup.dir.container.inner = inner");
  return { rel, explicit: true };
}

export type Occupancy = "free" | "empty" | "busy";

/** Whether a cgroup path is unused, a leftover without processes, or live, across all base dirs. */
export function occupancy(bases: string[], rel: string): Occupancy {
  let st: Occupancy = "free";
  for (const b of bases) {
    const d = `${b}/${rel}`;
    if (!exists(d)) continue;
    if (procsIn(d).size) return "busy";
    st = "empty";
  }
  return st;
}

/**
 * The path to use: rel itself, or rel-1, rel-2 ... when a live cgroup holds
 * the name (LXC appends the same suffixes). A config-chosen path is never
 * renamed: a live one there is an error.
 */
export function chooseName(rel: string, explicit: boolean, occ: (rel: string) => Occupancy): { rel: string; leftover: boolean } {
  for (let i = 0; i < 1000; i++) {
    const cand = i === 0 ? rel : `${rel}-${i}`;
    const st = occ(cand);
    if (st !== "busy") return { rel: cand, leftover: st === "empty" };
    if (explicit)
      throw new StateError(`create cgroup \`${rel}\`: it already holds running processes`, "another container uses this lxc.cgroup.dir; stop it or choose another path");
  }
  throw new StateError(`create cgroup \`${rel}\`: ${rel}-1 to ${rel}-999 are all in use`, "remove stale cgroups of that name");
}
