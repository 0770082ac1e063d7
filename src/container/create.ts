// lxt create: container directory + config + rootfs, all or nothing.
import { appendFileSync, chmodSync, chownSync, existsSync, lchownSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadConfig } from "../config/load.ts";
import { findTemplate } from "../templates/index.ts";
import { LxtError } from "../util/errors.ts";
import { Revert } from "../util/revert.ts";
import { checkIdmapsGranted, checkSeccompProfile, parseIdmap, subordinateRanges, type IdRange } from "../security/preflight.ts";
import { createStore, destroyStore, hostView, mountOnHost, overlayParts, STORE_TYPES, type StoreOptions, type StoreType } from "../storage/index.ts";
import { shimPath } from "../runtime/statefile.ts";
import { encodePlan } from "../runtime/encode.ts";
import { checkName, configPath, containerDir, isDefined, type Context } from "./context.ts";

export interface CreateOptions {
  template?: string;
  /** -f: config file whose keys go into the new config instead of the default config */
  config?: string;
  /** -B */
  bdev?: string;
  /** --fssize, --fstype, --vgname, --lvname, --thinpool */
  store?: StoreOptions;
  templateArgs: string[];
}

const KNOWN_STORES = ["dir", "lvm", "loop", "btrfs", "zfs", "rbd", "overlay", "overlayfs", "best", "none"];

/** Expands each x in a MAC template (00:16:3e:xx:xx:xx) to a random hex digit, as lxc-create does. */
export function expandHwaddr(v: string): string {
  return v.replace(/x/g, () => "0123456789abcdef"[Math.floor(Math.random() * 16)]!);
}

function baseConfigText(ctx: Context, opts: CreateOptions): { text: string; from?: string } {
  const from = opts.config ?? (existsSync(ctx.defaultConfig) ? ctx.defaultConfig : undefined);
  if (!from) return { text: "" };
  if (!existsSync(from)) throw new LxtError(`create: config file \`${from}\` does not exist`, "check the path given to -f");
  // Validate it where it stands, so errors name its own file:line; its id maps and
  // seccomp policy are checked before anything is made.
  const cfg = loadConfig(from);
  checkIdmapsGranted(cfg.getAll("lxc.idmap").map(parseIdmap), from);
  checkSeccompProfile(cfg.get("lxc.seccomp.profile") || undefined);
  const text = readFileSync(from, "utf8")
    .split("\n")
    .map((l) => {
      const m = /^(\s*lxc\.(?:net\.\d+|network)\.hwaddr\s*=\s*)(.*)$/.exec(l);
      return m ? m[1] + expandHwaddr(m[2]!) : l;
    })
    .join("\n");
  return { text: text.endsWith("\n") || !text ? text : `${text}\n`, from };
}

const unprivileged = () => (process.getuid?.() ?? 0) !== 0;

/**
 * Makes the lxcpath when missing so that a container's mapped root can pass
 * through it: 0755 as root (as LXC makes it), 0751 for an ordinary user (the
 * dirs on the way in its home too).
 */
export function ensureLxcpath(ctx: Context): void {
  if (!existsSync(ctx.lxcpath)) mkdirSync(ctx.lxcpath, { recursive: true, mode: unprivileged() ? 0o751 : 0o755 });
}

/** lxc.idmap lines for the calling user from /etc/subuid and /etc/subgid (as LXC wants them in ~/.config/lxc/default.conf). */
export function userIdmaps(): string {
  const uid = process.getuid!();
  const user = process.env.USER ?? process.env.LOGNAME ?? String(uid);
  const u = subordinateRanges("/etc/subuid", user, uid)[0];
  const g = subordinateRanges("/etc/subgid", user, process.getgid!())[0];
  if (!u || !g)
    throw new LxtError(`${user} has no subordinate ids in /etc/subuid and /etc/subgid, which unprivileged containers need`, `ask an admin: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${user}`);
  return `lxc.idmap = u 0 ${u[0]} ${u[1]}\nlxc.idmap = g 0 ${g[0]} ${g[1]}\n`;
}

/** The container's idmaps from its config text. */
export function idmapsOf(text: string): IdRange[] {
  return [...text.matchAll(/^\s*lxc\.idmap\s*=\s*([ug]\s+\d+\s+\d+\s+\d+)\s*$/gm)].map((m) => parseIdmap(m[1]!));
}

/**
 * Whether the rootfs can be an idmapped mount at start (lxc.rootfs.options =
 * idmap=container) instead of being chowned now: root, a dir or btrfs store,
 * no rootfs options of the config's own, and the kernel and filesystem able
 * to (the shim's idmap-probe tries one). LXT_IDMAPPED=0 forces the chown.
 */
function idmappable(bdev: string, options: string | undefined, path: string): boolean {
  if (unprivileged() || process.env.LXT_IDMAPPED === "0" || options || (bdev !== "dir" && bdev !== "btrfs")) return false;
  return Bun.spawnSync([shimPath(), "idmap-probe", path], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
}

/**
 * The container's mapped root reaches its rootfs through the container dir:
 * as root, group = its gid and 0770; as an ordinary user, 0751 (the dir is
 * the user's), and an overlay clone's upper and work dirs go to the
 * container's root (they are made by the user).
 */
export function openToMappedRoot(dir: string, maps: IdRange[], rootfsSpec?: string): void {
  const rootGid = maps.find((m) => m.kind === "g" && m.ns === 0)?.host;
  if (rootGid === undefined) return;
  if (!unprivileged()) {
    chownSync(dir, 0, rootGid);
    chmodSync(dir, 0o770);
    return;
  }
  chmodSync(dir, 0o751);
  const m = /^overlay:(.*)$/.exec(rootfsSpec ?? "");
  if (m) {
    const o = overlayParts(m[1]!);
    const dirs = o.image ? [] : [o.upper, o.work].filter((d) => existsSync(d));
    if (dirs.length) asSubidRoot(["chown", "1:1", ...dirs], "give the clone's overlay dirs to the container's root", maps);
  }
}

/**
 * For an ordinary user: runs ARGV (and waits) as root of a user namespace
 * where the user is 0 and its first subordinate uid and gid ranges (or the
 * container root's ranges in MAPS) follow from 1 — how it reads, copies,
 * chowns and removes its containers' files.
 */
export function asSubidRoot(argv: string[], what: string, maps?: IdRange[]): void {
  const r = rootRanges(what, maps);
  userNsExec(["0 " + r.uid + " 1", `1 ${r.u[0]} ${r.u[1]}`], ["0 " + r.gid + " 1", `1 ${r.g[0]} ${r.g[1]}`], argv, what);
}

/**
 * The same, but with the container's own view of the ids: 0 is the
 * container's root, and the user itself is mapped just past the range (so
 * its own directories stay writable there). Files made with owner k belong
 * to the container's id k: how an image's layers are unpacked for it.
 */
export function asContainerRoot(argv: string[], what: string, maps?: IdRange[]): void {
  const r = rootRanges(what, maps);
  userNsExec([`0 ${r.u[0]} ${r.u[1]}`, `${r.u[1]} ${r.uid} 1`], [`0 ${r.g[0]} ${r.g[1]}`, `${r.g[1]} ${r.gid} 1`], argv, what);
}

/** The container root's uid and gid ranges: from MAPS when given, else the user's first subordinate ranges. */
function rootRanges(what: string, maps?: IdRange[]): { uid: number; gid: number; u: [number, number]; g: [number, number] } {
  const uid = process.getuid!();
  const gid = process.getgid!();
  const user = process.env.USER ?? process.env.LOGNAME ?? String(uid);
  const pick = (k: "u" | "g", file: string, id: number): [number, number] | undefined => {
    const m = maps?.find((x) => x.kind === k && x.ns === 0);
    return m ? [m.host, m.range] : subordinateRanges(file, user, id)[0];
  };
  const u = pick("u", "/etc/subuid", uid);
  const g = pick("g", "/etc/subgid", gid);
  if (!u || !g) throw new LxtError(`${what}: ${user} has no subordinate ids in /etc/subuid and /etc/subgid`, `ask an admin: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${user}`);
  return { uid, gid, u, g };
}

function userNsExec(uLines: string[], gLines: string[], argv: string[], what: string): void {
  const plan = encodePlan([["idmap", "u", "/usr/bin/newuidmap", ...uLines], ["idmap", "g", "/usr/bin/newgidmap", ...gLines], ["exec", ...argv]]);
  const p = Bun.spawnSync([shimPath(), "usernsexec", "-"], { stdin: plan, stdout: "ignore", stderr: "pipe" });
  if (p.exitCode !== 0) throw new LxtError(`${what}: ${p.stderr.toString().trim() || `exit ${p.exitCode}`}`, "check /etc/subuid, /etc/subgid and that newuidmap/newgidmap are installed (uidmap)");
}

/**
 * A container whose rootfs is idmapped at start (lxc.rootfs.options =
 * idmap=container) landing on a store the shim mounts inside the container
 * (copy -B loop, import onto lvm...): no idmapped mount can be made there,
 * so its files are shifted to the mapped ids now and the option is dropped.
 */
export function settleIdmapped(cfgPath: string, rootfsSpec: string, dir: string): void {
  const text = readFileSync(cfgPath, "utf8");
  const type = /^([a-z]+):/.exec(rootfsSpec)?.[1] ?? "dir";
  if (!/^\s*lxc\.rootfs\.options\s*=.*\bidmap=container\b/m.test(text) || type === "dir" || type === "btrfs") return;
  const unmount = mountOnHost(rootfsSpec, `${dir}/rootfs`);
  try {
    shiftIds(hostView(rootfsSpec, dir), idmapsOf(text));
  } finally {
    unmount();
  }
  writeFileSync(cfgPath, withoutIdmapOption(text));
}

/** Config text without `idmap=container` in lxc.rootfs.options (the line goes when nothing else is left). */
export function withoutIdmapOption(text: string): string {
  return text.replace(/^(\s*lxc\.rootfs\.options\s*=\s*)(.*)$/m, (_, k: string, v: string) => {
    const rest = v.split(",").map((x) => x.trim()).filter((x) => x && x !== "idmap=container");
    return rest.length ? `${k}${rest.join(",")}` : "";
  });
}

/** Moves every file's owner and group through the id maps (ids with no map are left alone). */
export function shiftIds(root: string, maps: IdRange[]): void {
  const map = (kind: "u" | "g", id: number) => {
    const m = maps.find((x) => x.kind === kind && id >= x.ns && id < x.ns + x.range);
    return m ? m.host + (id - m.ns) : id;
  };
  const walk = (p: string) => {
    const st = lstatSync(p);
    const mode = st.mode & 0o7777;
    lchownSync(p, map("u", st.uid), map("g", st.gid));
    // chown clears set-id bits: put them back (not on symlinks)
    if (!st.isSymbolicLink() && mode & 0o6000) chmodSync(p, mode);
    if (st.isDirectory()) for (const e of readdirSync(p)) walk(`${p}/${e}`);
  };
  walk(root);
}

export async function create(ctx: Context, name: string, opts: CreateOptions): Promise<void> {
  checkName(name);
  if (!opts.template)
    throw new LxtError("A template must be specified", 'use "-t busybox", or "-t none" for a container without a rootfs');
  let bdev = opts.bdev ?? "dir";
  if (!KNOWN_STORES.includes(bdev)) throw new LxtError(`${bdev} is not a valid backing storage type`, `valid types: ${KNOWN_STORES.join(", ")}`);
  if (bdev === "best" || bdev === "none") bdev = "dir";
  if (bdev === "overlayfs") bdev = "overlay";
  if (!STORE_TYPES.includes(bdev as StoreType))
    throw new LxtError(`backing store \`${bdev}\` is not supported by lxt`, `use one of ${STORE_TYPES.join(", ")}`);
  if (bdev === "dir" && opts.store?.fssize)
    throw new LxtError("a dir store has no size limit", "use -B loop, btrfs or lvm with --fssize (or lxt copy -s/-e -L SIZE for an overlay clone with a limited upper)");
  if (isDefined(ctx, name)) throw new LxtError("Container already exists", `destroy it first (lxt destroy -n ${name}) or pick another name`);
  const template = opts.template === "none" ? undefined : await findTemplate(opts.template);
  const base = baseConfigText(ctx, opts);

  const dir = containerDir(ctx, name);
  const rootfs = `${dir}/rootfs`;
  const r = new Revert();
  try {
    const existed = existsSync(dir);
    ensureLxcpath(ctx);
    mkdirSync(dir, { recursive: true, mode: 0o770 });
    if (!existed) r.add(() => rmSync(dir, { recursive: true, force: true }));
    else r.add(() => { rmSync(rootfs, { recursive: true, force: true }); rmSync(configPath(ctx, name), { force: true }); });

    const header =
      `# Created by lxt create -t ${opts.template}${opts.templateArgs.length ? ` -- ${opts.templateArgs.join(" ")}` : ""}\n` +
      (base.from ? `# Base config: ${base.from}\n` : "") +
      "# For the options, see lxc.container.conf(5)\n\n";
    let text = header + base.text;
    // an ordinary user's containers are unprivileged: their ids come from /etc/subuid and /etc/subgid
    if (unprivileged() && !/^\s*lxc\.idmap\s*=/m.test(base.text)) text += userIdmaps();
    let rootfsSpec: string | undefined;
    if (template) {
      rootfsSpec = createStore(bdev as StoreType, dir, name, opts.store ?? {});
      const made = rootfsSpec;
      r.add(() => destroyStore(made));
      text += `${text.endsWith("\n\n") || !base.text ? "" : "\n"}lxc.rootfs.path = ${rootfsSpec}\n`;
    }
    const cfg = configPath(ctx, name);
    writeFileSync(cfg, text, { mode: 0o640 });
    if (template && rootfsSpec) {
      // the template fills the store mounted on the host for the time it works
      const unmount = mountOnHost(rootfsSpec, rootfs);
      try {
        let keys: Array<[string, string]>;
        try {
          keys = await template.create({ name, path: dir, rootfs: hostView(rootfsSpec, dir), args: opts.templateArgs });
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "ENOSPC" && !/No space left on device/.test(String((e as Error).message))) throw e;
          throw new LxtError(
            `the rootfs does not fit in its store: no space left while the ${opts.template} template filled it${opts.store?.fssize ? ` (--fssize ${opts.store.fssize} bytes)` : ""}`,
            "give a larger --fssize",
          );
        }
        if (keys.length) appendFileSync(cfg, keys.map(([k, v]) => `${k} = ${v}`).join("\n") + "\n");
      } finally {
        unmount();
      }
    }
    // The result must load: a template that wrote a bad key fails the create.
    const loaded = loadConfig(cfg);
    // lxc.idmap: the rootfs belongs to the ids root inside maps to (the template wrote host ids)
    const maps = loaded.getAll("lxc.idmap").map(parseIdmap);
    if (template && rootfsSpec && maps.length && unprivileged()) {
      // not root: the files the template wrote are ours; in a user namespace where we
      // are 0 and the subordinate ids follow from 1, they become the container root's
      asSubidRoot(["chown", "-hR", "1:1", hostView(rootfsSpec, dir)], "give the rootfs to the container's root", maps);
      chmodSync(dir, 0o751);
    } else if (template && rootfsSpec && maps.length) {
      if (idmappable(bdev, loaded.get("lxc.rootfs.options"), hostView(rootfsSpec, dir))) {
        // the kernel maps the ids at start (an idmapped mount of the rootfs): nothing to chown
        appendFileSync(cfg, "lxc.rootfs.options = idmap=container\n");
      } else {
        const unmount = mountOnHost(rootfsSpec, rootfs);
        try {
          shiftIds(hostView(rootfsSpec, dir), maps);
        } finally {
          unmount();
        }
      }
      openToMappedRoot(dir, maps);
    }
    r.success();
  } finally {
    await r.fail();
  }
}
