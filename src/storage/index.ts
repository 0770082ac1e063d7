// Backing stores: one driver per lxc.rootfs.path type behind one interface.
//   dir       a directory                       dir:/var/lib/lxt/c/rootfs or a plain path
//   overlay   lower dirs + an upper dir         overlay:LOWER[:LOWER...]:UPPER (work dir beside UPPER)
//   loop      a file holding a filesystem       loop:/var/lib/lxt/c/rootdev
//   btrfs     a subvolume                       btrfs:/var/lib/lxt/c/rootfs
//   lvm       a logical volume (thin or not)    lvm:/dev/VG/LV
// The container's rootfs is mounted by the shim inside the container's own
// mount namespace (a loop device with autoclear for loop images), so it goes
// away with the container however it dies: nothing to unmount on the host.
// Templates and copies mount it on the host for the time they work on it.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import type { ContainerSpec } from "../spec/types.ts";
import { errorMessage, LxtError, NotSupportedError } from "../util/errors.ts";
import { run } from "../util/exec.ts";

export type StoreType = "dir" | "overlay" | "loop" | "btrfs" | "lvm";
export const STORE_TYPES: StoreType[] = ["dir", "overlay", "loop", "btrfs", "lvm"];

export interface StoreOptions {
  /** bytes: loop image and LV size, btrfs quota */
  fssize?: number;
  fstype?: string;
  vgname?: string;
  lvname?: string;
  /** thin pool name (LVM thin provisioning) */
  thinpool?: string;
}

/** How the shim mounts the rootfs on its mount point inside the container's namespace (target: the mount point when not the rootfs's). */
export interface RootfsMount {
  op: "mount" | "mountloop";
  source: string;
  fstype: string;
  data: string;
  target?: string;
}

export const DEFAULT_FSSIZE = 1024 ** 3;

/** --fssize as LXC takes it: bytes, or with K, M, G, T (binary units). */
export function parseStoreSize(v: string): number {
  const m = /^(\d+)\s*([kmgt]?)i?b?$/i.exec(v.trim());
  if (!m || Number(m[1]) === 0) throw new LxtError(`invalid --fssize \`${v}\``, "e.g. --fssize 2G or --fssize 500M");
  return Number(m[1]) * 1024 ** " kmgt".indexOf((m[2] || " ").toLowerCase());
}

export function parseRootfs(spec: string): { type: StoreType | string; path: string } {
  const m = /^([a-z]+):(.*)$/.exec(spec);
  if (!m) return { type: spec.startsWith("/dev/") ? "blockdev" : "dir", path: spec };
  return { type: m[1] === "overlayfs" ? "overlay" : m[1]!, path: m[2]! };
}

/**
 * overlay:L1:L2:UPPER -> lowers (top first, as LXC writes them) and upper.
 * An UPPER ending in .img is lxt's size-limited upper: a filesystem image,
 * mounted on UPPER minus .img, holding upper/ and work/ (copy -s/-e with -L).
 */
export function overlayParts(path: string): { lowers: string[]; upper: string; work: string; image?: string } {
  const parts = path.split(":");
  if (parts.length < 2) throw new LxtError(`overlay rootfs \`${path}\` needs LOWER:UPPER`, "e.g. lxc.rootfs.path = overlay:/var/lib/lxt/base/rootfs:/var/lib/lxt/c/delta0");
  const upper = parts.pop()!;
  if (upper.endsWith(".img")) {
    const mnt = upper.slice(0, -4);
    return { lowers: parts, upper: `${mnt}/upper`, work: `${mnt}/work`, image: upper };
  }
  return { lowers: parts, upper, work: `${upper.replace(/\/+$/, "").replace(/[^/]+$/, "")}olwork` };
}

/** A size-limited overlay upper: an ext4 image with upper/ and work/ in it. */
export function createUpperImage(image: string, bytes: number): void {
  sh(["truncate", "-s", String(bytes), image], "make the upper image");
  mkfs("ext4", image);
  const mnt = image.slice(0, -4);
  mkdirSync(mnt, { recursive: true });
  sh(["mount", "-o", "loop", image, mnt], "mount the upper image");
  try {
    mkdirSync(`${mnt}/upper`);
    mkdirSync(`${mnt}/work`);
  } finally {
    sh(["umount", mnt], "unmount the upper image");
  }
}

function sh(argv: string[], what: string): string {
  const r = run(argv, { allowFail: true });
  if (r.status !== 0) throw new LxtError(`${what}: \`${argv.join(" ")}\` failed: ${r.stderr.trim() || `exit ${r.status}`}`);
  return r.stdout;
}

/** The mount point the shim mounts a non-dir rootfs on (lxc.rootfs.mount, else the container's rootfs dir). */
export function rootfsMountpoint(spec: ContainerSpec): string {
  const t = spec.rootfs.type;
  if (t === "dir" || t === "btrfs") return spec.rootfs.mount ?? spec.rootfs.path;
  return spec.rootfs.mount ?? `${spec.dir}/rootfs`;
}

/** What the shim must mount for this rootfs, checked here so that a missing store fails with a clear message. */
export function rootfsMount(spec: ContainerSpec): RootfsMount[] | undefined {
  const { type, path } = spec.rootfs;
  switch (type) {
    case "dir":
    case "btrfs":
      if (!existsSync(path)) throw new LxtError(`rootfs \`${path}\` does not exist`, `create the container with a template, or fix lxc.rootfs.path in ${spec.configPath}`);
      return undefined;
    case "overlay": {
      const o = overlayParts(path);
      for (const l of o.lowers) if (!existsSync(l)) throw new LxtError(`overlay lower dir \`${l}\` does not exist`, "its base container may have been destroyed or moved");
      const overlay: RootfsMount = { op: "mount", source: "overlay", fstype: "overlay", data: `lowerdir=${o.lowers.join(":")},upperdir=${o.upper},workdir=${o.work}` };
      if (o.image) {
        if (!existsSync(o.image)) throw new LxtError(`overlay upper image \`${o.image}\` does not exist`);
        mkdirSync(o.image.slice(0, -4), { recursive: true });
        return [{ op: "mountloop", source: o.image, fstype: detectFs(o.image), data: "", target: o.image.slice(0, -4) }, overlay];
      }
      mkdirSync(o.upper, { recursive: true });
      mkdirSync(o.work, { recursive: true });
      return [overlay];
    }
    case "loop":
      if (!existsSync(path)) throw new LxtError(`loop image \`${path}\` does not exist`, `fix lxc.rootfs.path in ${spec.configPath}`);
      return [{ op: "mountloop", source: path, fstype: detectFs(path), data: "" }];
    case "lvm":
    case "blockdev":
      if (!existsSync(path)) throw new LxtError(`block device \`${path}\` does not exist`, type === "lvm" ? "activate the volume group (vgchange -ay) or fix lxc.rootfs.path" : "fix lxc.rootfs.path");
      return [{ op: "mount", source: path, fstype: detectFs(path), data: "" }];
    default:
      throw new NotSupportedError(`backing store \`${type}\` (lxc.rootfs.path = ${spec.rootfs.spec}) is not supported by lxt`, `use one of ${STORE_TYPES.join(", ")}`);
  }
}

function detectFs(dev: string): string {
  const r = run(["blkid", "-o", "value", "-s", "TYPE", dev], { allowFail: true });
  return r.stdout.trim() || "ext4";
}

function onBtrfs(dir: string): boolean {
  return run(["stat", "-f", "-c", "%T", dir], { allowFail: true }).stdout.trim() === "btrfs";
}

/** Makes the store for a new container in `dir`; returns the lxc.rootfs.path value. The caller's Revert calls destroyStore. */
export function createStore(type: StoreType, dir: string, name: string, o: StoreOptions): string {
  switch (type) {
    case "dir":
      mkdirSync(`${dir}/rootfs`, { mode: 0o755 });
      return `dir:${dir}/rootfs`;
    case "btrfs":
      if (!onBtrfs(dir)) throw new LxtError(`-B btrfs: ${dir} is not on a btrfs filesystem`, "put the lxcpath on btrfs (-P), or use -B dir/loop/lvm");
      sh(["btrfs", "subvolume", "create", `${dir}/rootfs`], "create the btrfs subvolume");
      if (o.fssize) setQuota({ type: "btrfs", path: `${dir}/rootfs` }, o.fssize);
      return `btrfs:${dir}/rootfs`;
    case "loop": {
      const img = `${dir}/rootdev`;
      sh(["truncate", "-s", String(o.fssize ?? DEFAULT_FSSIZE), img], "make the loop image");
      mkfs(o.fstype ?? "ext4", img);
      mkdirSync(`${dir}/rootfs`, { mode: 0o755 });
      return `loop:${img}`;
    }
    case "lvm": {
      const vg = o.vgname ?? "lxc";
      const lv = o.lvname ?? name;
      const size = `${o.fssize ?? DEFAULT_FSSIZE}b`;
      if (run(["vgs", vg], { allowFail: true }).status !== 0) throw new LxtError(`-B lvm: volume group \`${vg}\` does not exist`, "make it (vgcreate), or name another with --vgname");
      if (o.thinpool) {
        const attr = run(["lvs", "--noheadings", "-o", "lv_attr", `${vg}/${o.thinpool}`], { allowFail: true });
        if (attr.status !== 0) throw new LxtError(`-B lvm: thin pool \`${vg}/${o.thinpool}\` does not exist`, `make it (lvcreate -T ${vg}/${o.thinpool} -L SIZE), or name another with --thinpool`);
        if (!attr.stdout.trim().startsWith("t")) throw new LxtError(`-B lvm: \`${vg}/${o.thinpool}\` is not a thin pool`, `make one with lvcreate -T ${vg}/POOL -L SIZE`);
        sh(["lvcreate", "-q", "-y", "-T", `${vg}/${o.thinpool}`, "-V", size, "-n", lv], "create the thin volume");
      }
      else sh(["lvcreate", "-q", "-y", "-L", size, "-n", lv, vg], "create the logical volume");
      const dev = `/dev/${vg}/${lv}`;
      try {
        mkfs(o.fstype ?? "ext4", dev);
      } catch (e) {
        run(["lvremove", "-q", "-f", `${vg}/${lv}`], { allowFail: true });
        throw e;
      }
      mkdirSync(`${dir}/rootfs`, { mode: 0o755 });
      return `lvm:${dev}`;
    }
    case "overlay":
      throw new LxtError("-B overlay needs a lower layer", "make overlay containers with `lxt copy -s` (a snapshot of a dir container) or `lxt copy -e`");
  }
}

function mkfs(fstype: string, target: string): void {
  if (!/^[a-z0-9]+$/.test(fstype)) throw new LxtError(`invalid --fstype \`${fstype}\``);
  const quiet = fstype.startsWith("ext") ? ["-q", "-F"] : fstype === "xfs" ? ["-q", "-f"] : fstype === "btrfs" ? ["-q", "-f"] : [];
  sh([`mkfs.${fstype}`, ...quiet, target], `make a ${fstype} filesystem`);
}

/** Mounts a container's rootfs on the host at `target` (templates, copies); returns the undo. */
export function mountOnHost(rootfsSpec: string, target: string): () => void {
  const { type, path } = parseRootfs(rootfsSpec);
  if (type === "dir" || type === "btrfs") return () => {};
  mkdirSync(target, { recursive: true });
  if (type === "loop") sh(["mount", "-o", "loop", path, target], "mount the loop image");
  else if (type === "lvm" || type === "blockdev") sh(["mount", path, target], "mount the volume");
  else if (type === "overlay") {
    const o = overlayParts(path);
    if (o.image) {
      mkdirSync(o.image.slice(0, -4), { recursive: true });
      sh(["mount", "-o", "loop", o.image, o.image.slice(0, -4)], "mount the upper image");
    }
    mkdirSync(o.upper, { recursive: true });
    mkdirSync(o.work, { recursive: true });
    const r = run(["mount", "-t", "overlay", "overlay", "-o", `lowerdir=${o.lowers.join(":")},upperdir=${o.upper},workdir=${o.work}`, target], { allowFail: true });
    if (r.status !== 0) {
      if (o.image) run(["umount", o.image.slice(0, -4)], { allowFail: true });
      throw new LxtError(`mount the overlay: ${r.stderr.trim()}`);
    }
    return () => {
      unmountAll(target);
      if (o.image) unmountAll(o.image.slice(0, -4));
    };
  } else throw new NotSupportedError(`backing store \`${type}\` is not supported by lxt`);
  return () => unmountAll(target);
}

function unmountAll(target: string): void {
  const r = run(["umount", target], { allowFail: true });
  if (r.status !== 0) run(["umount", "-l", target], { allowFail: true });
}

/** Where a container's files are while mounted with mountOnHost. */
export function hostView(rootfsSpec: string, dir: string): string {
  const { type, path } = parseRootfs(rootfsSpec);
  return type === "dir" || type === "btrfs" ? path : `${dir}/rootfs`;
}

/** Removes a container's store (the container dir itself is removed by the caller). */
export function destroyStore(rootfsSpec: string): void {
  const { type, path } = parseRootfs(rootfsSpec);
  if (type === "btrfs" && existsSync(path)) {
    // nested subvolumes first (a container may have made its own)
    const r = run(["btrfs", "subvolume", "delete", "-R", path], { allowFail: true });
    if (r.status !== 0) sh(["btrfs", "subvolume", "delete", path], "delete the btrfs subvolume");
  } else if (type === "lvm" && existsSync(path)) {
    const vgLv = path.replace(/^\/dev\//, "");
    sh(["lvremove", "-q", "-f", vgLv], "remove the logical volume");
  } else if (type === "overlay") {
    const o = overlayParts(path);
    if (o.image) {
      rmSync(o.image, { force: true });
      rmSync(o.image.slice(0, -4), { recursive: true, force: true });
    } else {
      rmSync(o.upper, { recursive: true, force: true });
      rmSync(o.work, { recursive: true, force: true });
    }
  }
}

/** Size limit: loop grows the image (and the ext filesystem), lvm resizes the LV, btrfs sets a qgroup limit. */
export function setQuota(r: { type: string; path: string }, bytes: number): void {
  if (r.type === "btrfs") {
    const mnt = run(["stat", "-c", "%m", r.path], { allowFail: true }).stdout.trim();
    run(["btrfs", "quota", "enable", mnt], { allowFail: true });
    sh(["btrfs", "qgroup", "limit", String(bytes), r.path], "set the btrfs quota");
  } else if (r.type === "loop") {
    sh(["truncate", "-s", String(bytes), r.path], "resize the loop image");
    const fs = detectFs(r.path);
    if (fs.startsWith("ext")) {
      run(["e2fsck", "-f", "-y", r.path], { allowFail: true });
      sh(["resize2fs", r.path], "resize the filesystem");
    }
  } else if (r.type === "lvm") {
    sh(["lvresize", "-q", "-f", "-r", "-L", `${bytes}b`, r.path], "resize the logical volume");
  } else throw new NotSupportedError(`a size limit on a ${r.type} rootfs is not supported`, "use a loop, lvm or btrfs store (create -B ... --fssize)");
}

/** Disk use and limit of a container's store, in bytes (info). */
export function usage(spec: ContainerSpec): { used: number; limit?: number } | undefined {
  const { type, path } = spec.rootfs;
  try {
    const img = type === "loop" ? path : type === "overlay" ? overlayParts(path).image : undefined;
    if (img) {
      const st = statSync(img);
      return { used: st.blocks * 512, limit: st.size };
    }
    if (type === "lvm") {
      const out = run(["lvs", "--noheadings", "--units", "b", "--nosuffix", "-o", "lv_size,data_percent", path], { allowFail: true }).stdout.trim().split(/\s+/);
      const size = Number(out[0]);
      const pct = Number(out[1]);
      return { used: Number.isFinite(pct) ? Math.round((size * pct) / 100) : 0, limit: size };
    }
    if (type === "btrfs") {
      const q = run(["btrfs", "qgroup", "show", "-re", "--raw", path], { allowFail: true });
      const id = run(["btrfs", "subvolume", "show", path], { allowFail: true }).stdout.match(/Subvolume ID:\s+(\d+)/)?.[1];
      const line = q.stdout.split("\n").find((l) => l.startsWith(`0/${id} `));
      if (line) {
        const f = line.trim().split(/\s+/);
        return { used: Number(f[1]), limit: f[3] === "none" ? undefined : Number(f[3]) };
      }
    }
    const du = run(["du", "-sxb", type === "overlay" ? overlayParts(path).upper : path], { allowFail: true }).stdout.split(/\s+/)[0];
    return { used: Number(du) };
  } catch (e) {
    void errorMessage(e);
    return undefined;
  }
}

/** Whether the directory holds anything (a non-empty rootfs mount point means a mount leaked or files sit under it). */
export function isEmptyDir(dir: string): boolean {
  try {
    return readdirSync(dir).length === 0;
  } catch {
    return true;
  }
}

export function readRootfsSpec(config: string): string | undefined {
  const m = /^\s*lxc\.rootfs\.path\s*=\s*(.*?)\s*$/m.exec(readFileSync(config, "utf8"));
  return m?.[1];
}
