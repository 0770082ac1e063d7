// ContainerSpec -> the shim's plan: an ordered list of plain operations the
// C side executes without deciding anything (docs/ARCHITECTURE.md "The shim").
// Pure: unit-tested without root.
import { CAPS } from "../config/keys.ts";
import type { ContainerSpec, HookType, Namespace } from "../spec/types.ts";

import type { Op } from "./encode.ts";

export { encodePlan, type Op } from "./encode.ts";

export const CLONE: Record<Namespace, number> = {
  mnt: 0x20000, uts: 0x4000000, ipc: 0x8000000, user: 0x10000000, pid: 0x20000000, net: 0x40000000, cgroup: 0x2000000, time: 0x80,
};
const MS = { RDONLY: 1, NOSUID: 2, NODEV: 4, NOEXEC: 8, REMOUNT: 32, BIND: 0x1000, REC: 0x4000, PRIVATE: 0x40000, RELATIME: 0x200000, STRICTATIME: 0x1000000, NOATIME: 0x400 };
const FLAG_OPTS: Record<string, number> = {
  ro: MS.RDONLY, nosuid: MS.NOSUID, nodev: MS.NODEV, noexec: MS.NOEXEC, bind: MS.BIND, rbind: MS.BIND | MS.REC,
  relatime: MS.RELATIME, strictatime: MS.STRICTATIME, noatime: MS.NOATIME,
};
const IGNORED_OPTS = new Set(["defaults", "rw", "auto", "noauto", "nouser", "user", "optional", "create=dir", "create=file", "relative", "suid", "dev", "exec", "async"]);
export const RLIMITS: Record<string, number> = {
  cpu: 0, fsize: 1, data: 2, stack: 3, core: 4, rss: 5, nproc: 6, nofile: 7, memlock: 8, as: 9, locks: 10, sigpending: 11, msgqueue: 12, nice: 13, rtprio: 14, rttime: 15,
};
import { DEFAULT_PATH } from "./attach.ts";

export { DEFAULT_PATH };

/** lxc.arch values (normalized) that run under PER_LINUX32 on a 64-bit host */
const PERSONALITY32 = new Set(["i686", "armv7l", "mips", "ppc"]);
/** personality(2) value for lxc.arch on this host: PER_LINUX32 (8) for a 32-bit arch on a 64-bit host */
export function personalityOf(spec: ContainerSpec): number | undefined {
  return spec.arch && PERSONALITY32.has(spec.arch) && !PERSONALITY32.has(hostArch()) ? 8 : undefined;
}
function hostArch(): string {
  return process.arch === "x64" ? "x86_64" : process.arch === "arm64" ? "aarch64" : process.arch === "ia32" ? "i686" : process.arch;
}

export interface CgroupMount {
  /** directory under /sys/fs/cgroup: "cpu", "systemd", "unified"; "" for a pure v2 host */
  dir: string;
  fstype: "cgroup" | "cgroup2";
  /** mount data: the v1 controllers ("cpu", "none,name=systemd"); "" for cgroup2 */
  options: string;
}

export interface PlanInput {
  spec: ContainerSpec;
  rundir: string;
  cgroupJoinFiles: string[];
  mode: "daemon" | "foreground" | "execute";
  argv?: string[];
  cleanupArgv: string[];
  /**
   * The host has nothing to undo but the cgroups and the run dir: the monitor
   * removes them itself (thaw file and value first) instead of running
   * `lxt __cleanup`, except after a reboot.
   */
  fastCleanup?: { cgroupDirs: string[] };
  /** the freezer file and its thawed value: the monitor thaws before a stop, a SIGKILL or its own cleanup (frozen tasks take no signals) */
  thaw?: [string, string];
  /** the monitor stops after clone until the host has done its part (NICs) */
  syncClone?: boolean;
  /** init stops after its setup, before exec, until the host has done its part (start-host hooks) */
  syncExec?: boolean;
  /** lxc.namespace.share.NS resolved to /proc/PID/ns/NS paths */
  sharePaths?: Partial<Record<Namespace, string>>;
  /** environment of hooks run inside the container's namespaces (LXC_*) */
  hookEnv?: Record<string, string>;
  /** a backing store the shim mounts on `target` inside the container's mount namespace (see src/storage) */
  rootfs?: { target: string; mount?: { op: "mount" | "mountloop"; source: string; fstype: string; data: string; target?: string }[] };
  /** an LSM label for init: [the /proc/self/attr file, its value], written just before exec */
  lsmExec?: [string, string];
  /** lxc.seccomp.profile compiled to BPF: loaded last before the ids and exec */
  seccompFile?: string;
  /** the monitor holds the container's network namespace for the cleanup (fd 99): host NICs moved in go back */
  keepNetns?: boolean;
  /** cgroup v2: [the container's cgroup dir, the eBPF device program file] the monitor attaches before clone */
  deviceProgram?: [string, string];
  /** the host's cgroup hierarchies, for lxc.mount.auto = cgroup / cgroup2 (v1: one per hierarchy; v2: one) */
  cgroupMounts?: CgroupMount[];
  /** uid/gid maps are written by newuidmap/newgidmap (not root) */
  idmapHelpers?: { uid: string; gid: string };
}

/** Bounding-set numbers to drop for a drop list or a keep list. */
export function capsToDrop(caps: ContainerSpec["caps"]): number[] {
  const idx = (n: string) => (/^\d+$/.test(n) ? Number(n) : CAPS.indexOf(n));
  if (caps.mode === "drop") return caps.names.includes("all") ? CAPS.map((_, i) => i) : caps.names.map(idx).filter((i) => i >= 0);
  const keep = new Set(caps.names.map(idx));
  return CAPS.map((_, i) => i).filter((i) => !keep.has(i));
}

export function initEnv(spec: ContainerSpec, caller: Record<string, string | undefined>): string[] {
  const env = new Map<string, string>([["container", "lxc"], ["PATH", DEFAULT_PATH]]);
  if (caller.TERM) env.set("TERM", caller.TERM);
  for (const e of spec.environment) {
    const v = e.value ?? caller[e.name];
    if (v !== undefined) env.set(e.name, v);
  }
  return [...env].map(([k, v]) => `${k}=${v}`);
}

export function buildStartPlan(o: PlanInput, caller: Record<string, string | undefined> = {}): Op[] {
  const { spec } = o;
  const R = (o.rootfs?.target ?? spec.rootfs.mount ?? spec.rootfs.path).replace(/\/+$/, "");
  const ops: Op[] = [];
  const clone = spec.namespaces.clone;
  // cgroup is unshared after the join; time cannot be given to clone(2) (the monitor unshares it)
  const cloneFlags = clone.filter((n) => n !== "cgroup" && n !== "time").reduce((a, n) => a | CLONE[n], 0);
  ops.push(["rundir", o.rundir], ["status", "3"], ["mode", o.mode], ["clone", String(cloneFlags)], ["pdeath", String(spec.signals.pdeath)]);
  ops.push(["sock", `${o.rundir}/sock`]);
  // a user-namespace child cannot mount a block or loop-backed store: the monitor (root) makes it
  // detached (storemount) and hands it over (the child's recvmount), in the store's order
  // (an overlay too: made by root it keeps trusted.* xattrs, so whiteouts and opaque dirs work)
  const detached = new Set((o.rootfs?.mount ?? []).filter((m) => clone.includes("user") && !o.idmapHelpers && (m.op === "mountloop" || (m.op === "mount" && (m.source.startsWith("/dev/") || m.fstype === "overlay")))));
  for (const m of detached) ops.push(["storemount", m.op === "mountloop" ? "loop" : "dev", m.source, m.fstype, "0", m.data]);
  // an ordinary user's overlay is mounted in its user namespace, where only user.* xattrs are allowed
  const userOverlay = (m: { fstype: string; data: string }) => (clone.includes("user") && o.idmapHelpers && m.fstype === "overlay" ? `${m.data},userxattr` : m.data);
  if (R && spec.rootfs.options.includes("idmap=container")) ops.push(["idmapmount", R]);
  if (spec.console.logfile && o.mode !== "execute") ops.push(["log", spec.console.logfile, String(spec.console.size), spec.console.rotate ? "1" : "0"]);
  if (o.syncClone || o.syncExec) ops.push(["sync", `${o.rundir}/sync`, o.syncClone ? "1" : "0"]);
  if (o.cleanupArgv.length) ops.push(["cleanup", ...o.cleanupArgv]);
  if (o.thaw) ops.push(["thaw", ...o.thaw]);
  if (o.fastCleanup) ops.push(["fastcleanup", ...o.fastCleanup.cgroupDirs]);
  if (o.deviceProgram) ops.push(["devbpf", ...o.deviceProgram]);
  if (o.keepNetns) ops.push(["keepnetns"]);
  // init joins its cgroup itself (join). Early in a user namespace (its credentials are still
  // the host's then); otherwise after the backing store is mounted, since the device cgroup
  // would refuse the loop or block device to a process already in it.
  const userns = clone.includes("user");
  const storeMounts = (o.rootfs?.mount ?? []).length > 0 && !userns;
  const joinOps: Op[] = o.cgroupJoinFiles.map((f) => ["join", f]);
  if (clone.includes("cgroup")) joinOps.push(["unshare", String(CLONE.cgroup)]);
  if (!storeMounts) ops.push(...joinOps.filter((j) => j[0] === "join"));
  if (userns && !o.idmapHelpers) {
    // root writes the maps itself and hands the terminals to the container's root
    const hu = spec.idmaps.find((m) => m.kind === "u" && m.nsid === 0)?.hostid;
    const hg = spec.idmaps.find((m) => m.kind === "g" && m.nsid === 0)?.hostid;
    if (hu !== undefined && hg !== undefined) ops.push(["ptyowner", String(hu), String(hg)]);
  }
  if (userns) {
    for (const kind of ["u", "g"] as const) {
      const lines = spec.idmaps.filter((m) => m.kind === kind).map((m) => `${m.nsid} ${m.hostid} ${m.range}`);
      const helper = o.idmapHelpers ? (kind === "u" ? o.idmapHelpers.uid : o.idmapHelpers.gid) : "direct";
      if (lines.length) ops.push(["idmap", kind, helper, ...lines]);
    }
  }
  // shared namespaces: the pid namespace is entered by the monitor before clone, the rest by init (user first)
  const share = o.sharePaths ?? {};
  if (share.pid) ops.push(["pidns", share.pid]);
  // lxc.time.offset.*: the monitor enters a new time namespace for its children, with these offsets
  if (clone.includes("time") || spec.time.bootNs !== undefined || spec.time.monotonicNs !== undefined)
    ops.push(["timens", String(spec.time.bootNs ?? 0n), String(spec.time.monotonicNs ?? 0n)]);
  for (const ns of ["user", "mnt", "uts", "ipc", "net", "cgroup", "time"] as Namespace[])
    if (share[ns]) ops.push(["setns", share[ns]!, String(CLONE[ns])]);
  if (userns) ops.push(["nsroot"]);
  if (!storeMounts && clone.includes("cgroup")) ops.push(["unshare", String(CLONE.cgroup)]);
  if (clone.includes("net")) ops.push(["lo"]);
  // nothing propagates back to the host
  ops.push(["mount", "", "/", "", String(MS.REC | MS.PRIVATE), ""]);
  for (const [k, v] of Object.entries(o.hookEnv ?? {})) ops.push(["henv", `${k}=${v}`]);
  const hooks = (type: HookType) => {
    for (const cmd of spec.hooks[type]) {
      ops.push(["henv", `LXC_HOOK_TYPE=${type}`], ["henv", "LXC_HOOK_SECTION=lxc"]);
      ops.push(["hook", type, spec.hookVersion === 1 ? cmd : `${cmd} ${spec.name} lxc ${type}`]);
    }
  };
  hooks("pre-mount");
  // R = "": the host's root (no lxc.rootfs.path): no rootfs mount, no pivot, no autodev
  const hostRoot = R === "";
  // the system mounts and device nodes go through "strict" in-root ops: no symlink on the way
  const ROOT = R || "/";
  // the backing store's mounts, in order (a size-limited overlay upper first, then the overlay on R)
  if (!hostRoot) for (const m of o.rootfs?.mount ?? []) ops.push(detached.has(m) ? ["recvmount", m.target ?? R] : [m.op, m.source, m.target ?? R, m.fstype, "0", userOverlay(m)]);
  if (storeMounts) ops.push(...joinOps);
  // lxc.rootfs.options = idmap=container: the monitor makes an idmapped copy of the rootfs
  // mount (on-disk ids through the container's user namespace) and hands it over
  if (!hostRoot && spec.rootfs.options.includes("idmap=container")) ops.push(["recvmount", R]);
  else if (!hostRoot) ops.push(["mount", R, R, "", String(MS.BIND | MS.REC), ""]);

  const a = spec.mount.auto;
  if (a.proc) {
    ops.push(["mkdirin", ROOT, "proc", "strict"], ["mountin", ROOT, "proc", "proc", "proc", String(MS.NOSUID | MS.NODEV | MS.NOEXEC), "", "strict"]);
    if (a.proc === "mixed") {
      // /proc/sys read-only, except /proc/sys/net for the container's own network namespace (as LXC)
      ops.push(["mount", `${R}/proc/sys`, `${R}/proc/sys`, "", String(MS.BIND), ""]);
      if (clone.includes("net")) ops.push(["mount", `${R}/proc/sys/net`, `${R}/proc/sys/net`, "", String(MS.BIND), ""]);
      ops.push(["mount", "", `${R}/proc/sys`, "", String(MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC), ""]);
      ops.push(["mount", "/dev/null", `${R}/proc/sysrq-trigger`, "", String(MS.BIND), "", "optional"]);
    }
  }
  if (a.sys) {
    const fl = MS.NOSUID | MS.NODEV | MS.NOEXEC;
    if (a.sys === "mixed" && clone.includes("net")) {
      // read-only, except /sys/devices/virtual/net for the container's own interfaces (as LXC)
      ops.push(["mkdirin", ROOT, "sys", "strict"], ["mountin", ROOT, "sys", "sysfs", "sysfs", String(fl), "", "strict"]);
      ops.push(["mount", `${R}/sys/devices/virtual/net`, `${R}/sys/devices/virtual/net`, "", String(MS.BIND), "", "optional"]);
      ops.push(["mount", "", `${R}/sys`, "", String(MS.BIND | MS.REMOUNT | MS.RDONLY | fl), ""]);
    } else ops.push(["mkdirin", ROOT, "sys", "strict"], ["mountin", ROOT, "sys", "sysfs", "sysfs", String(fl | (a.sys !== "rw" ? MS.RDONLY : 0)), "", "strict"]);
  }
  // The container's own cgroups, mounted inside its cgroup namespace (each
  // mount's root is the container's cgroup): mixed/ro keep the tmpfs holding
  // them read-only; ro makes the hierarchies read-only too.
  const cgMounts = a.cgroup ? (o.cgroupMounts ?? []) : a.cgroup2 ? (o.cgroupMounts ?? []).filter((m) => m.fstype === "cgroup2") : [];
  if (cgMounts.length) {
    const base = `${R}/sys/fs/cgroup`;
    const hierRo = (a.cgroup ? a.cgroup.mode === "ro" : a.cgroup2!.ro) ? MS.RDONLY : 0;
    const fl = MS.NOSUID | MS.NODEV | MS.NOEXEC;
    const onlyV2 = cgMounts.length === 1 && cgMounts[0]!.dir === "";
    ops.push(["mkdirin", ROOT, "sys/fs/cgroup", "strict"]);
    if (!onlyV2) ops.push(["mountin", ROOT, "sys/fs/cgroup", "cgroup", "tmpfs", String(fl), "mode=755,size=64k", "strict"]);
    for (const m of cgMounts) {
      if (!m.dir) ops.push(["mountin", ROOT, "sys/fs/cgroup", m.fstype, m.fstype, String(fl | hierRo), m.options, "strict"]);
      else ops.push(["mkdir", `${base}/${m.dir}`, "755"], ["mount", m.fstype, `${base}/${m.dir}`, m.fstype, String(fl | hierRo), m.options]);
    }
    if (!onlyV2 && (a.cgroup?.mode ?? "mixed") !== "rw") ops.push(["mount", "", base, "", String(MS.REMOUNT | MS.RDONLY | fl), "mode=755,size=64k"]);
  }
  if (spec.autodev && !hostRoot) {
    ops.push(["mkdirin", ROOT, "dev", "strict"], ["mountin", ROOT, "dev", "none", "tmpfs", String(MS.NOSUID | MS.NOEXEC), `size=${spec.autodevTmpfsSize},mode=755`, "strict"]);
    for (const [n, maj, min] of [["null", 1, 3], ["zero", 1, 5], ["full", 1, 7], ["random", 1, 8], ["urandom", 1, 9], ["tty", 5, 0]] as const) {
      // a user namespace cannot mknod: bind the host's nodes instead, as LXC does
      if (userns) ops.push(["mkfile", `${R}/dev/${n}`], ["mount", `/dev/${n}`, `${R}/dev/${n}`, "", String(MS.BIND), ""]);
      else ops.push(["mknod", `${R}/dev/${n}`, "20666", String(maj), String(min)]);
    }
    ops.push(["mkdir", `${R}/dev/pts`, "755"]);
    ops.push(["mount", "devpts", `${R}/dev/pts`, "devpts", String(MS.NOSUID | MS.NOEXEC), `newinstance,ptmxmode=0666,mode=0620,gid=5${spec.pty.max > 0 ? `,max=${spec.pty.max}` : ""}`]);
    ops.push(["symlink", "pts/ptmx", `${R}/dev/ptmx`], ["symlink", "/proc/self/fd", `${R}/dev/fd`]);
    ops.push(["symlink", "/proc/self/fd/0", `${R}/dev/stdin`], ["symlink", "/proc/self/fd/1", `${R}/dev/stdout`], ["symlink", "/proc/self/fd/2", `${R}/dev/stderr`]);
  }
  // pty ROOT REL N: a monitor-held pty bound on REL; N is LXC's tty number (0 = console).
  // In a user namespace with its own devpts (autodev): ptyin, a pty the child makes there,
  // owned by the container's root, its master handed to the monitor
  const pty = userns && spec.autodev ? "ptyin" : "pty";
  if (spec.console.path !== "none" && o.mode !== "execute" && !hostRoot) ops.push([pty, ROOT, "dev/console", "0"]);
  if (o.mode !== "execute" && !hostRoot)
    for (let i = 1; i <= spec.tty.max; i++) {
      if (spec.tty.dir) {
        ops.push(["mkdirin", ROOT, `dev/${spec.tty.dir}`, "strict"], [pty, ROOT, `dev/${spec.tty.dir}/tty${i}`, String(i)], ["symlink", `${spec.tty.dir}/tty${i}`, `${R}/dev/tty${i}`]);
      } else ops.push([pty, ROOT, `dev/tty${i}`, String(i)]);
    }

  // Targets are resolved inside the rootfs by the shim (openat2 RESOLVE_IN_ROOT):
  // a symlink in the rootfs cannot send a mount entry to a host path.
  for (const m of spec.mount.entries) {
    const rel = m.target.replace(/^\/+/, "").replace(/\/+$/, "");
    const optional = m.options.includes("optional") ? ["optional"] : [];
    if (m.options.includes("create=dir")) ops.push(["mkdirin", ROOT, rel]);
    if (m.options.includes("create=file")) ops.push(["mkfilein", ROOT, rel]);
    let flags = 0;
    const data: string[] = [];
    for (const opt of m.options) {
      if (FLAG_OPTS[opt] !== undefined) flags |= FLAG_OPTS[opt]!;
      else if (!IGNORED_OPTS.has(opt) && !opt.startsWith("create=") && !opt.startsWith("idmap=")) data.push(opt);
    }
    const src = m.options.includes("relative") ? `${R}/${m.source.replace(/^\/+/, "")}` : m.source;
    const bind = (flags & MS.BIND) !== 0;
    // a bind mount ignores MS_RDONLY: it is made read-only by a remount after
    ops.push(["mountin", ROOT, rel, src, m.fstype === "none" ? "" : m.fstype, String(bind ? flags & ~MS.RDONLY : flags), data.join(","), ...optional]);
    if (bind && flags & MS.RDONLY) ops.push(["mountin", ROOT, rel, "", "", String(MS.BIND | MS.REMOUNT | MS.RDONLY), "", ...optional]);
  }
  hooks("mount");
  if (spec.autodev && !hostRoot) hooks("autodev");
  // lxc.rootfs.options: ro, nosuid, nodev, noexec, noatime... applied to the rootfs bind
  const rootFlags = spec.rootfs.options.reduce((f, opt) => f | (opt !== "bind" && opt !== "rbind" ? (FLAG_OPTS[opt] ?? 0) : 0), 0);
  if (rootFlags && !hostRoot) ops.push(["mount", "", R, "", String(MS.BIND | MS.REMOUNT | rootFlags), ""]);

  if (!hostRoot) ops.push(["pivot", R]);
  if (clone.includes("uts")) ops.push(["hostname", spec.hostname]);
  for (const s of spec.sysctls) ops.push(["write", `/proc/sys/${s.key.replaceAll(".", "/")}`, s.value]);
  for (const p of spec.proc) ops.push(["write", `/proc/self/${p.key}`, p.value]);
  for (const r of spec.rlimits) if (RLIMITS[r.name] !== undefined) ops.push(["rlimit", String(RLIMITS[r.name]), String(r.soft), String(r.hard)]);
  const drop = capsToDrop(spec.caps);
  ops.push(["capdrop", ...drop.map(String)]); // also clears the ambient set when nothing is dropped
  if (spec.noNewPrivs) ops.push(["nonewprivs"]);
  if (o.syncExec) ops.push(["barrier"]);
  if (spec.keyringSession) ops.push(["keyring"]);
  if (spec.schedCore) ops.push(["schedcore"]);
  const pers = personalityOf(spec);
  if (pers !== undefined) ops.push(["personality", String(pers)]);
  hooks("start"); // inside the container, as root, just before init's ids are set
  if (o.lsmExec) ops.push(["write", ...o.lsmExec]);
  if (o.seccompFile) ops.push(["seccomp", o.seccompFile]);
  ops.push(["ids", String(spec.init.gid), String(spec.init.uid), ...spec.init.groups.map(String)]);
  ops.push(["chdir", spec.init.cwd]);
  for (const e of initEnv(spec, caller)) ops.push(["env", e]);
  ops.push(["exec", ...(o.argv?.length ? o.argv : spec.init.cmd)]);
  return ops;
}
