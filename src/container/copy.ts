// lxt copy (lxc-copy) and lxt snapshot (lxc-snapshot): copies of a
// container's rootfs and config, full or copy-on-write.
//   full copy       a new store of the same type (or -B), files copied (rsync -aHAX)
//   snapshot (-s)   dir/overlay: an overlay whose lower is the base's rootfs
//                   (dependency recorded: base/lxc_snapshots, clone/lxc_rdepends);
//                   btrfs: a subvolume snapshot; lvm thin: a thin snapshot
//   ephemeral (-e)  an overlay snapshot with lxc.ephemeral = 1, started at once:
//                   destroyed when it stops (unless --keepdata)
// Snapshots (LXCPATH/NAME/snaps/snapN/ with config, ts, comment) are made the
// same way: native on btrfs and lvm thin, a full copy otherwise; a running
// container is frozen while its snapshot is taken.
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { asSubidRoot, ensureLxcpath, idmapsOf, openToMappedRoot, settleIdmapped } from "./create.ts";
import { createStore, createUpperImage, destroyStore, hostView, mountOnHost, overlayParts, parseRootfs, type StoreType } from "../storage/index.ts";
import { errorMessage, LxtError, NotFoundError, StateError } from "../util/errors.ts";
import { run } from "../util/exec.ts";
import { Revert } from "../util/revert.ts";
import { checkName, configPath, containerDir, isDefined, runDir, type Context } from "./context.ts";
import { expandHwaddr } from "./create.ts";
import { loadSpec, openCgroup, status } from "./state.ts";

export interface CopyOptions {
  newName?: string;
  /** lxcpath of the copy (-p) */
  newPath?: string;
  snapshot?: boolean;
  ephemeral?: boolean;
  bdev?: string;
  keepName?: boolean;
  keepMac?: boolean;
  /** ephemeral: keep it after it stops */
  keepData?: boolean;
  /** ephemeral: -m bind=SRC:DST[,ro] */
  mounts?: string[];
  fssize?: number;
}

/** A tree copied with owners, modes, hard links, ACLs and xattrs; an ordinary user's (its
 * containers' subordinate ids) from its user namespace. */
function rsync(args: string[], what: string): void {
  const argv = ["rsync", "-aHAX", "--numeric-ids", ...args];
  if ((process.getuid?.() ?? 0) !== 0) asSubidRoot(argv, what);
  else sh(argv, what);
}

function sh(argv: string[], what: string): void {
  const r = run(argv, { allowFail: true });
  if (r.status !== 0) throw new LxtError(`${what}: \`${argv.join(" ")}\` failed: ${r.stderr.trim() || `exit ${r.status}`}`);
}

/** The config of the copy: name, rootfs, paths under the old dir, MACs (new random ones with the same prefix). */
export function rewriteConfig(text: string, o: { oldDir: string; newDir: string; oldName: string; newName: string; rootfs: string; keepName?: boolean; keepMac?: boolean; ephemeral?: boolean }): string {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^(\s*)(lxc\.[\w.]+)(\s*=\s*)(.*)$/.exec(line);
    if (!m) {
      out.push(line);
      continue;
    }
    const [, ind, key, eq] = m;
    let v = m[4]!;
    if (key === "lxc.rootfs.path") v = o.rootfs;
    else if ((key === "lxc.uts.name" || key === "lxc.utsname") && !o.keepName && v === o.oldName) v = o.newName;
    else if (/^lxc\.net\.\d+\.hwaddr$|^lxc\.network\.hwaddr$/.test(key!) && !o.keepMac) v = expandHwaddr(v.replace(/^((?:[0-9a-f]{2}:){3}).*$/i, "$1xx:xx:xx"));
    else if (key === "lxc.ephemeral" && o.ephemeral) continue;
    else v = v.split(o.oldDir + "/").join(o.newDir + "/");
    out.push(`${ind}${key}${eq}${v}`);
  }
  let t = out.join("\n");
  if (o.ephemeral) t = `${t.replace(/\n*$/, "\n")}lxc.ephemeral = 1\n`;
  return t;
}

function requireStopped(ctx: Context, name: string, what: string): void {
  if (status(ctx, name).state !== "STOPPED") throw new StateError(`${what} ${name}: it is running`, `stop it first (lxt stop -n ${name})`);
}

/** A copy-on-write rootfs for `newDir` on top of `base` (its lxc.rootfs.path). */
function snapshotRootfs(base: string, newDir: string, newName: string, fssize?: number): { spec: string; dependent: boolean } {
  const { type, path } = parseRootfs(base);
  // -L SIZE: the overlay upper on a size-limited image (the clone's quota)
  const upper = () => {
    if (!fssize) return `${newDir}/delta0`;
    createUpperImage(`${newDir}/delta0.img`, fssize);
    return `${newDir}/delta0.img`;
  };
  if (type === "dir") return { spec: `overlay:${path}:${upper()}`, dependent: true };
  if (type === "overlay") {
    const o = overlayParts(path);
    if (o.image) throw new LxtError("a snapshot of an overlay clone with a size-limited upper is not supported", "make a full copy of it (without -s)");
    return { spec: `overlay:${o.upper}:${o.lowers.join(":")}:${upper()}`, dependent: true };
  }
  if (type === "btrfs") {
    sh(["btrfs", "subvolume", "snapshot", path, `${newDir}/rootfs`], "snapshot the btrfs subvolume");
    return { spec: `btrfs:${newDir}/rootfs`, dependent: false };
  }
  if (type === "lvm") {
    const [vg, lv] = path.replace(/^\/dev\//, "").split("/");
    const thin = run(["lvs", "--noheadings", "-o", "pool_lv", `${vg}/${lv}`], { allowFail: true }).stdout.trim();
    if (!thin) throw new LxtError(`a snapshot of ${path} needs LVM thin provisioning`, "create the base with -B lvm --thinpool, or make a full copy (no -s)");
    sh(["lvcreate", "-q", "-s", "-n", newName, `${vg}/${lv}`], "make the thin snapshot");
    sh(["lvchange", "-q", "-ay", "-K", `${vg}/${newName}`], "activate the thin snapshot");
    mkdirSync(`${newDir}/rootfs`, { recursive: true });
    return { spec: `lvm:/dev/${vg}/${newName}`, dependent: false };
  }
  throw new LxtError(`a copy-on-write snapshot of a ${type} rootfs is not supported`, "make a full copy (without -s), or use a dir, overlay, btrfs or lvm thin store");
}

/** The files kept beside a config (seccomp policy, ...): plain files only, not stores or dependency records. */
function copyAux(oldDir: string, newDir: string): void {
  for (const f of readdirSync(oldDir)) {
    if (["rootfs", "config", "snaps", "lxc_snapshots", "lxc_rdepends", "rootdev", "delta0", "delta0.img", "olwork"].includes(f)) continue;
    try {
      copyFileSync(`${oldDir}/${f}`, `${newDir}/${f}`);
    } catch {
      // directories and specials are not carried over
    }
  }
}

/** Copies every file of one store into another, both mounted on the host for the time. */
function copyFiles(srcSpec: string, srcDir: string, dstSpec: string, dstDir: string): void {
  const staging = (d: string) => `${d}/.lxt-copy-mnt`;
  const srcView = parseRootfs(srcSpec).type === "dir" || parseRootfs(srcSpec).type === "btrfs" ? hostView(srcSpec, srcDir) : staging(srcDir);
  const dstView = hostView(dstSpec, dstDir);
  const um1 = mountOnHost(srcSpec, srcView);
  try {
    const um2 = mountOnHost(dstSpec, dstView);
    try {
      rsync([`${srcView}/`, `${dstView}/`], "copy the rootfs");
    } finally {
      um2();
    }
  } finally {
    um1();
    if (srcView === staging(srcDir)) rmSync(srcView, { recursive: true, force: true });
  }
}

export async function copy(ctx: Context, name: string, o: CopyOptions): Promise<string> {
  if (!isDefined(ctx, name)) throw new NotFoundError(`${name} doesn't exist`, `no container \`${name}\` in ${ctx.lxcpath}`);
  const newName = checkName(o.newName ?? (o.ephemeral ? `${name}_${Math.random().toString(36).slice(2, 8)}` : ""));
  const newPath = (o.newPath ?? ctx.lxcpath).replace(/\/+$/, "");
  if (!o.newName && !o.ephemeral) throw new LxtError("a new name is needed", "pass -N NEWNAME");
  if (newName === name && newPath === ctx.lxcpath) throw new LxtError("the copy needs another name or lxcpath", "pass -N NEWNAME or -p PATH");
  requireStopped(ctx, name, "copy");
  const newCtx = { ...ctx, lxcpath: newPath };
  if (isDefined(newCtx, newName)) throw new LxtError(`Container ${newName} already exists in ${newPath}`, "pick another name");
  const spec = loadSpec(ctx, name);
  const oldDir = containerDir(ctx, name);
  const newDir = containerDir(newCtx, newName);
  const r = new Revert();
  try {
    ensureLxcpath(newCtx);
    mkdirSync(newDir, { recursive: true, mode: 0o770 });
    r.add(() => rmSync(newDir, { recursive: true, force: true }));
    let rootfs: string;
    let dependent = false;
    if ((o.snapshot || o.ephemeral) && spec.rootfs.options.includes("idmap=container") && spec.rootfs.type !== "btrfs")
      // an overlay clone is mounted inside the container, where no idmapped mount can be made
      throw new LxtError(
        `${name}'s rootfs is idmapped (lxc.rootfs.options = idmap=container): an overlay snapshot clone of it cannot be`,
        "make a full copy (without -s), or a btrfs base (-B btrfs: native snapshots), or create the base with LXT_IDMAPPED=0 (the rootfs shifted to the mapped ids)",
      );
    if (o.snapshot || o.ephemeral) {
      const s = snapshotRootfs(spec.rootfs.spec, newDir, newName, o.fssize);
      rootfs = s.spec;
      dependent = s.dependent;
      if (parseRootfs(rootfs).type === "overlay") mkdirSync(`${newDir}/rootfs`, { recursive: true });
      const made = rootfs;
      r.add(() => destroyStore(made));
    } else {
      const src = parseRootfs(spec.rootfs.spec).type;
      const type = (o.bdev ?? (src === "overlay" || src === "blockdev" ? "dir" : src)) as StoreType;
      rootfs = createStore(type, newDir, newName, { fssize: o.fssize });
      const made = rootfs;
      r.add(() => destroyStore(made));
      copyFiles(spec.rootfs.spec, oldDir, rootfs, newDir);
    }
    copyAux(oldDir, newDir);
    const text = rewriteConfig(readFileSync(configPath(ctx, name), "utf8"), { oldDir, newDir, oldName: name, newName, rootfs, keepName: o.keepName, keepMac: o.keepMac, ephemeral: o.ephemeral && !o.keepData });
    const binds = (o.mounts ?? []).map((m) => {
      const b = /^bind=([^:]+):([^,]+)(,ro)?$/.exec(m);
      if (!b) throw new LxtError(`invalid mount \`${m}\``, "write -m bind=/host/path:/path/inside[,ro]");
      return `lxc.mount.entry = ${b[1]} ${b[2]!.replace(/^\/+/, "")} none bind,create=dir${b[3] ? ",ro" : ""} 0 0\n`;
    });
    writeFileSync(configPath(newCtx, newName), text.replace(/\n*$/, "\n") + binds.join(""), { mode: 0o640 });
    if (!o.snapshot && !o.ephemeral) settleIdmapped(configPath(newCtx, newName), rootfs, newDir);
    openToMappedRoot(newDir, idmapsOf(readFileSync(configPath(newCtx, newName), "utf8")), rootfs);
    if (dependent) {
      appendFileSync(`${oldDir}/lxc_snapshots`, `${newPath}\n${newName}\n`);
      writeFileSync(`${newDir}/lxc_rdepends`, `${ctx.lxcpath}\n${name}\n`);
    }
    r.success();
  } finally {
    await r.fail();
  }
  if (o.ephemeral) {
    const { start } = await import("./start.ts");
    await start(newCtx, newName, { mode: "daemon" });
  }
  return newName;
}

// ---- snapshots ----

export interface SnapshotInfo {
  name: string;
  dir: string;
  time: string;
  comment?: string;
}

export function listSnapshots(ctx: Context, name: string): SnapshotInfo[] {
  const dir = `${containerDir(ctx, name)}/snaps`;
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((s) => /^snap\d+$/.test(s))
    .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)))
    .map((s) => {
      const d = `${dir}/${s}`;
      const read = (f: string) => (existsSync(`${d}/${f}`) ? readFileSync(`${d}/${f}`, "utf8").trim() : undefined);
      return { name: s, dir, time: read("ts") ?? "", comment: read("comment") };
    });
}

function stamp(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}:${p(d.getMonth() + 1)}:${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Takes a snapshot (a running container is frozen while its files are copied). */
export async function snapshotCreate(ctx: Context, name: string, commentFile?: string): Promise<string> {
  if (!isDefined(ctx, name)) throw new NotFoundError(`${name} doesn't exist`);
  const spec = loadSpec(ctx, name);
  const snaps = `${containerDir(ctx, name)}/snaps`;
  const n = listSnapshots(ctx, name).reduce((m, s) => Math.max(m, Number(s.name.slice(4)) + 1), 0);
  const snap = `snap${n}`;
  const dir = `${snaps}/${snap}`;
  let comment: string | undefined;
  if (commentFile) {
    try {
      comment = readFileSync(commentFile, "utf8");
    } catch (e) {
      throw new LxtError(`comment file \`${commentFile}\`: ${errorMessage(e)}`);
    }
  }
  const cg = status(ctx, name).state !== "STOPPED" ? openCgroup(runDir(ctx, name)) : undefined;
  const r = new Revert();
  cg?.freeze();
  try {
    mkdirSync(dir, { recursive: true });
    r.add(() => rmSync(dir, { recursive: true, force: true }));
    const { type, path } = parseRootfs(spec.rootfs.spec);
    let rootfs: string;
    if (type === "btrfs" || (type === "lvm" && run(["lvs", "--noheadings", "-o", "pool_lv", path.replace(/^\/dev\//, "")], { allowFail: true }).stdout.trim())) {
      rootfs = snapshotRootfs(spec.rootfs.spec, dir, `${name}_${snap}`).spec;
    } else {
      rootfs = createStore("dir", dir, snap, {});
      copyFiles(spec.rootfs.spec, containerDir(ctx, name), rootfs, dir);
    }
    const made = rootfs;
    r.add(() => destroyStore(made));
    // the config as it was, on the snapshot's rootfs (other paths keep pointing at the container's files)
    writeFileSync(`${dir}/config`, rewriteConfig(readFileSync(spec.configPath, "utf8"), { oldDir: containerDir(ctx, name), newDir: containerDir(ctx, name), oldName: name, newName: name, rootfs, keepName: true, keepMac: true }));
    writeFileSync(`${dir}/ts`, `${stamp()}\n`);
    if (comment !== undefined) writeFileSync(`${dir}/comment`, comment);
    r.success();
  } finally {
    cg?.thaw();
    await r.fail();
  }
  return snap;
}

/** Restores a snapshot over the (stopped) container's store (files and config), or as a new dir container. */
export async function snapshotRestore(ctx: Context, name: string, snap: string, newName?: string): Promise<void> {
  const sdir = `${containerDir(ctx, name)}/snaps/${snap}`;
  if (!existsSync(`${sdir}/config`)) throw new NotFoundError(`${name} has no snapshot ${snap}`, `see lxt snapshot -n ${name} -L`);
  const snapText = readFileSync(`${sdir}/config`, "utf8");
  const snapRootfs = /^\s*lxc\.rootfs\.path\s*=\s*(.*)$/m.exec(snapText)![1]!.trim();
  if (newName) {
    checkName(newName);
    if (isDefined(ctx, newName)) throw new LxtError(`Container ${newName} already exists`, "pick another name");
    const tdir = containerDir(ctx, newName);
    const r = new Revert();
    try {
      mkdirSync(tdir, { recursive: true, mode: 0o770 });
      r.add(() => rmSync(tdir, { recursive: true, force: true }));
      const rootfs = createStore("dir", tdir, newName, {});
      copyFiles(snapRootfs, sdir, rootfs, tdir);
      copyAux(containerDir(ctx, name), tdir);
      writeFileSync(`${tdir}/config`, rewriteConfig(snapText, { oldDir: containerDir(ctx, name), newDir: tdir, oldName: name, newName, rootfs }));
      r.success();
    } finally {
      await r.fail();
    }
    return;
  }
  requireStopped(ctx, name, "restore a snapshot of");
  const spec = loadSpec(ctx, name);
  const dir = containerDir(ctx, name);
  const view = parseRootfs(spec.rootfs.spec).type === "dir" || parseRootfs(spec.rootfs.spec).type === "btrfs" ? hostView(spec.rootfs.spec, dir) : `${dir}/.lxt-restore-mnt`;
  const snapView = parseRootfs(snapRootfs).type === "dir" || parseRootfs(snapRootfs).type === "btrfs" ? hostView(snapRootfs, sdir) : `${sdir}/.lxt-restore-mnt`;
  const um1 = mountOnHost(spec.rootfs.spec, view);
  try {
    const um2 = mountOnHost(snapRootfs, snapView);
    try {
      // --ignore-times: a file changed within the same second and size must come back too
      rsync(["--delete", "--ignore-times", `${snapView}/`, `${view}/`], "restore the files");
    } finally {
      um2();
    }
  } finally {
    um1();
    for (const v of [view, snapView]) if (v.endsWith(".lxt-restore-mnt")) rmSync(v, { recursive: true, force: true });
  }
  // the snapshot's config, on the container's own store
  writeFileSync(spec.configPath, rewriteConfig(snapText, { oldDir: dir, newDir: dir, oldName: name, newName: name, rootfs: spec.rootfs.spec, keepName: true, keepMac: true }));
}

export function snapshotDestroy(ctx: Context, name: string, snap: string): void {
  const all = snap === "ALL" ? listSnapshots(ctx, name).map((s) => s.name) : [snap];
  for (const s of all) {
    const sdir = `${containerDir(ctx, name)}/snaps/${s}`;
    if (!existsSync(`${sdir}/config`)) throw new NotFoundError(`${name} has no snapshot ${s}`, `see lxt snapshot -n ${name} -L`);
    const rs = readFileSync(`${sdir}/config`, "utf8").match(/^\s*lxc\.rootfs\.path\s*=\s*(.*)$/m)?.[1]?.trim();
    if (rs) destroyStore(rs);
    rmSync(sdir, { recursive: true, force: true });
  }
}
