// The host side of a start: everything before and around the shim. The
// sequence (docs/ARCHITECTURE.md): load the spec, clear a stale run, check
// the rootfs, make the run dir, create the cgroup, run pre-start hooks, hand
// the resolved plan to the shim, which daemonizes as the monitor. Every step
// registers its undo: a failed start leaves nothing behind.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { checkIdmapsGranted, idRanges } from "../security/preflight.ts";
import { cgroupDriver, detectLayout, type CgroupRecord } from "../cgroup/index.ts";
import { compileDeviceProgram, devicePolicy } from "../cgroup/devices.ts";
import { bridgeState, DEFAULT_BRIDGE, startBridge } from "../net/bridge.ts";
import { planNics, setupNetwork, teardownNetwork } from "../net/nic.ts";
import { overlayParts, rootfsMount, rootfsMountpoint } from "../storage/index.ts";
import { capsToDrop, personalityOf, type CgroupMount } from "../runtime/plan.ts";
import { startContainer as shimStart } from "../runtime/shim.ts";
import { fastAttachPlan } from "../runtime/attach.ts";
import { attachRecord } from "./attach.ts";
import type { ContainerSpec, MountEntry, Namespace } from "../spec/types.ts";
import { errorMessage, LxtError, NotSupportedError, StateError } from "../util/errors.ts";
import { configLog, log } from "../util/log.ts";
import { Revert } from "../util/revert.ts";
import { cleanup } from "./cleanup.ts";
import { isDefined, runDir, type Context } from "./context.ts";
import { hookEnv, runHostHooks } from "./hooks.ts";
import { loadSpec, status } from "./state.ts";

export interface StartRequest {
  rcfile?: string;
  defines?: string[];
  /** things the user should know that do not stop the start (an LSM profile this host cannot apply) */
  onWarning?: (msg: string) => void;
  /** replaces lxc.init.cmd (start -- CMD, execute -- CMD) */
  argv?: string[];
  mode: "daemon" | "foreground" | "execute";
}

export class AlreadyRunningError extends StateError {
  override name = "AlreadyRunningError";
}

/**
 * The policy compiled to BPF, cached by the policy file's identity (path,
 * inode, size, mtime) next to the run dirs: parsing and compiling cost a
 * cold start more than the rest of it.
 */
async function compiledSeccomp(ctx: Context, policy: string, rundir: string): Promise<string> {
  let key: string;
  try {
    const st = statSync(policy);
    key = Bun.hash.wyhash(`${policy}\0${st.ino}\0${st.size}\0${st.mtimeMs}\0${SECCOMP_FORMAT}`).toString(16);
  } catch {
    key = "";
  }
  const cache = `${ctx.runroot}/.seccomp/${key}.bpf`;
  if (key && existsSync(cache)) return cache;
  const { compileSeccomp, loadSeccompProfile } = await import("../security/seccomp.ts");
  const prog = compileSeccomp(loadSeccompProfile(policy));
  if (!key) {
    writeFileSync(`${rundir}/seccomp.bpf`, prog);
    return `${rundir}/seccomp.bpf`;
  }
  mkdirSync(`${ctx.runroot}/.seccomp`, { recursive: true, mode: 0o700 });
  writeFileSync(`${cache}.${process.pid}`, prog, { mode: 0o600 });
  renameSync(`${cache}.${process.pid}`, cache);
  return cache;
}

/** Bumped when the compiler's output changes, so cached programs are remade. */
const SECCOMP_FORMAT = 1;

/** lxc.mount.fstab: fstab-format lines, targets relative to the rootfs (as LXC reads them). */
function readFstab(spec: ContainerSpec): MountEntry[] {
  const path = spec.mount.fstab;
  if (!path) return [];
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new LxtError(`lxc.mount.fstab: cannot read \`${path}\`: ${errorMessage(e)}`, `fix lxc.mount.fstab in ${spec.configPath}`);
  }
  const out: MountEntry[] = [];
  text.split("\n").forEach((line, i) => {
    const t = line.trim();
    if (!t || t.startsWith("#")) return;
    const [source, target, fstype, opts] = t.split(/\s+/);
    if (!source || !target || !fstype)
      throw new LxtError(`${path}:${i + 1}: malformed fstab line \`${t}\``, "each line needs SOURCE TARGET FSTYPE [OPTIONS [DUMP [PASS]]]");
    out.push({ source, target, fstype, options: (opts ?? "defaults").split(","), origin: `${path}:${i + 1}` });
  });
  return out;
}

/** lxc.namespace.share.NS = NAME | PID | /path -> the namespace file to join. */
function sharePaths(ctx: Context, spec: ContainerSpec): Partial<Record<Namespace, string>> {
  const out: Partial<Record<Namespace, string>> = {};
  for (const [ns, v] of Object.entries(spec.namespaces.share) as Array<[Namespace, string]>) {
    let path: string;
    if (v.startsWith("/")) path = v;
    else if (/^\d+$/.test(v)) path = `/proc/${v}/ns/${ns}`;
    else {
      const st = status(ctx, v);
      if (!st.initPid || st.state === "STOPPED")
        throw new LxtError(`lxc.namespace.share.${ns} = ${v}: container \`${v}\` is not running`, `start ${v} first, or give a PID or a namespace path`);
      path = `/proc/${st.initPid}/ns/${ns}`;
    }
    if (!existsSync(path)) throw new LxtError(`lxc.namespace.share.${ns} = ${v}: \`${path}\` does not exist`, "give a running container's name, a live PID or a namespace file");
    out[ns] = path;
  }
  return out;
}

/** With a user namespace, the container's root (a mapped host uid) must be able to reach its rootfs. */
function checkMappedRootReach(spec: ContainerSpec): void {
  if (!spec.namespaces.clone.includes("user")) return;
  const uid = spec.idmaps.find((m) => m.kind === "u" && m.nsid === 0)?.hostid;
  const gid = spec.idmaps.find((m) => m.kind === "g" && m.nsid === 0)?.hostid;
  if (uid === undefined || gid === undefined)
    throw new LxtError(`start \`${spec.name}\`: the id maps give the container no root (no map for id 0)`, `map id 0, e.g. lxc.idmap = u 0 100000 65536, in ${spec.configPath}`);
  // the mount point (a loop or block store is mounted on the container's rootfs dir)
  const parts = rootfsMountpoint(spec).split("/").filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const dir = `/${parts.slice(0, i).join("/")}`;
    let st;
    try {
      st = statSync(dir);
    } catch {
      return; // checkRootfs reports a missing rootfs
    }
    const bit = st.uid === uid ? 0o100 : st.gid === gid ? 0o010 : 0o001;
    if (!(st.mode & bit))
      throw new LxtError(
        `start \`${spec.name}\`: \`${dir}\` (mode ${(st.mode & 0o7777).toString(8)}, owner ${st.uid}:${st.gid}) is not searchable by the container's root (host uid ${uid}, gid ${gid}), so it cannot reach its rootfs`,
        `chmod o+x ${dir}, or chgrp ${gid} ${dir} && chmod g+x ${dir}`,
      );
  }
}

/**
 * Whether stopping needs `lxt __cleanup` for more than removing the cgroups
 * and the run dir (which the monitor does itself, saving a Bun start on every
 * stop). Anything that leaves host-side state to undo belongs here.
 */
function hostCleanupNeeded(spec: ContainerSpec): boolean {
  return (
    spec.hooks["post-stop"].length > 0 ||
    spec.ephemeral ||
    // the kernel destroys a dead namespace's devices asynchronously: lxt deletes the host sides
    // itself, returns moved host NICs and runs down scripts
    spec.nics.some((n) => n.type !== "empty" && n.type !== "none")
  );
}

/** The container's cgroup directories (what the monitor removes itself) and how to thaw it. */
function monitorCleanup(rec: CgroupRecord): { thaw?: [string, string]; cgroupDirs: string[] } {
  if (rec.version === 2) return { thaw: [`${rec.paths.unified}/cgroup.freeze`, "0"], cgroupDirs: [rec.paths.unified!] };
  return { thaw: rec.paths.freezer ? [`${rec.paths.freezer}/freezer.state`, "THAWED"] : undefined, cgroupDirs: [...new Set(Object.values(rec.paths))] };
}

/** Takes devices.allow/deny (lxc.cgroup.* or lxc.cgroup2.*) out of the settings, in config order. */
function splitDeviceRules(c: ContainerSpec["cgroup"]): { lines: Array<{ allow: boolean; rule: string }>; rest: ContainerSpec["cgroup"] } {
  const isDev = (k: string) => k === "devices.allow" || k === "devices.deny";
  const lines = [...c.v1, ...c.v2].filter((kv) => isDev(kv.key)).map((kv) => ({ allow: kv.key === "devices.allow", rule: kv.value }));
  return { lines, rest: { ...c, v1: c.v1.filter((kv) => !isDev(kv.key)), v2: c.v2.filter((kv) => !isDev(kv.key)) } };
}

/** The host's cgroup hierarchies as the container mounts them under /sys/fs/cgroup. */
function cgroupMounts(): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const h of detectLayout().hierarchies) {
    const dir = h.mountpoint === "/sys/fs/cgroup" ? "" : h.mountpoint.slice(h.mountpoint.lastIndexOf("/") + 1);
    if (h.unified) out.push({ dir, fstype: "cgroup2", options: "" });
    else out.push({ dir, fstype: "cgroup", options: h.controllers.map((c) => (c.startsWith("name=") ? `none,${c}` : c)).join(",") });
  }
  return out;
}

/**
 * lxc.apparmor.profile / lxc.selinux.context: applied (written to
 * /proc/self/attr/.../exec just before init's exec) where the host has that
 * LSM; where it has not, the container runs without it and the user is told,
 * never silently.
 */
function lsmSetup(spec: ContainerSpec): { exec?: [string, string]; warnings: string[] } {
  const warnings: string[] = [];
  let exec: [string, string] | undefined;
  const aa = spec.apparmor.profile;
  if (aa && aa !== "unconfined") {
    const enabled = (() => {
      try {
        return readFileSync("/sys/module/apparmor/parameters/enabled", "utf8").trim() === "Y";
      } catch {
        return false;
      }
    })();
    if (!enabled) warnings.push(`lxc.apparmor.profile = ${aa} is not applied: this host has no AppArmor (the container runs without an AppArmor profile)`);
    else exec = [existsSync("/proc/self/attr/apparmor/exec") ? "/proc/self/attr/apparmor/exec" : "/proc/self/attr/exec", `exec ${aa === "generated" ? "lxc-container-default" : aa}`];
  }
  const se = spec.selinux.context;
  if (se) {
    if (!existsSync("/sys/fs/selinux/enforce")) warnings.push(`lxc.selinux.context = ${se} is not applied: this host has no SELinux (the container runs without an SELinux context)`);
    else exec = ["/proc/self/attr/exec", se];
  }
  return { exec, warnings };
}

/** Who writes the id maps: root writes them itself; other users go through newuidmap/newgidmap. */
function idmapHelpers(spec: ContainerSpec): { uid: string; gid: string } | undefined {
  if (!spec.namespaces.clone.includes("user") || process.getuid?.() === 0) return undefined;
  return { uid: "/usr/bin/newuidmap", gid: "/usr/bin/newgidmap" };
}

/** Starts a container. daemon: returns once RUNNING; foreground/execute: returns the exit status. */
export async function start(ctx: Context, name: string, req: StartRequest): Promise<{ exitCode?: number; initPid: number }> {
  if (!req.rcfile && !isDefined(ctx, name))
    throw new LxtError("No container config specified", `no container \`${name}\` in ${ctx.lxcpath}; create it first or pass --rcfile FILE`);
  const spec = loadSpec(ctx, name, { rcfile: req.rcfile, defines: req.defines });
  configLog(spec.log.file, spec.log.level);
  log("INFO", "start", `config ${spec.configPath}, rootfs ${spec.rootfs.spec}, mode ${req.mode}`);
  const rundir = runDir(ctx, name);

  const st = status(ctx, name);
  if (st.stale) await cleanup(ctx, name, { rundir, rcfile: req.rcfile, stale: true });
  else if (st.state !== "STOPPED") {
    const e = new AlreadyRunningError(
      req.mode === "execute" ? `Container "${name}" appears to be already running` : "Container is already running",
      req.mode === "execute" ? `use lxt attach -n ${name} -- CMD to run a command in it` : undefined,
    );
    // lxc-start exits 0 for an already running container; lxc-execute 1.
    e.exitCode = req.mode === "execute" ? 1 : 0;
    throw e;
  }
  // the backing store: checked now, mounted by the shim inside the container's mount namespace
  const store = rootfsMount(spec);
  // an ordinary user's overlay clone: its upper and work dirs (made by the user) must be the
  // container root's, who writes them from the user namespace
  if (process.getuid?.() !== 0 && spec.rootfs.type === "overlay" && spec.namespaces.clone.includes("user")) {
    const o = overlayParts(spec.rootfs.path);
    const mine = o.image ? [] : [o.upper, o.work].filter((d) => statSync(d).uid === process.getuid!());
    if (mine.length) {
      const { asSubidRoot } = await import("./create.ts");
      asSubidRoot(["chown", "1:1", ...mine], "give the overlay's upper and work dirs to the container's root", idRanges(spec.idmaps));
    }
  }
  if (spec.namespaces.clone.includes("user") && !(spec.idmaps.some((m) => m.kind === "u") && spec.idmaps.some((m) => m.kind === "g")))
    throw new LxtError(
      `start \`${name}\`: a user namespace needs both a uid and a gid map`,
      `add lxc.idmap = u 0 100000 65536 and lxc.idmap = g 0 100000 65536 (or drop user from lxc.namespace.clone) in ${spec.configPath}`,
    );
  if (spec.rootfs.options.includes("idmap=container")) {
    const why = !spec.namespaces.clone.includes("user")
      ? "the container has no user namespace (no lxc.idmap)"
      : store?.length
        ? `its ${spec.rootfs.type} rootfs is mounted inside the container; idmapped rootfs mounts are made for dir and btrfs rootfs`
        : process.getuid?.() !== 0
          ? "only root can make idmapped mounts"
          : undefined;
    if (why) throw new LxtError(`start \`${name}\`: lxc.rootfs.options = idmap=container cannot be applied: ${why}`, `remove idmap=container from lxc.rootfs.options in ${spec.configPath} (the rootfs must then be owned by the mapped ids)`);
  }
  checkIdmapsGranted(idRanges(spec.idmaps), spec.configPath);
  checkMappedRootReach(spec);
  const lsm = lsmSetup(spec);
  for (const w of lsm.warnings) {
    log("WARN", "start", w);
    req.onWarning?.(w);
  }
  if (req.mode === "execute" && !(req.argv?.length || spec.executeCmd?.length))
    throw new LxtError("execute: no command given", "pass it after --, or set lxc.execute.cmd");

  const r = new Revert();
  try {
    mkdirSync(rundir, { recursive: true, mode: 0o700 });
    r.add(() => rmSync(rundir, { recursive: true, force: true }));

    // LXT_CGROUP_VERSION=2 puts containers on a hybrid host's cgroup2 mount (no controllers
    // there: for device programs, freezing and the v2 paths; the tests use it)
    const driver = cgroupDriver({ force: process.env.LXT_CGROUP_VERSION === "2" ? 2 : undefined });
    // cgroup v2 has no devices controller: the device rules become an eBPF program the monitor attaches
    const dev = driver.version === 2 ? splitDeviceRules(spec.cgroup) : undefined;
    let cg: ReturnType<typeof driver.create> | undefined;
    try {
      cg = driver.create({ name, spec: dev?.rest ?? spec.cgroup });
    } catch (e) {
      // an ordinary user without a delegated cgroup: the container runs without one
      // when it asks for no limits (as root the failure stands)
      // device rules do not count: a user namespace cannot make device nodes anyway
      const asks = [...spec.cgroup.v1, ...spec.cgroup.v2].some((kv) => !kv.key.startsWith("devices."));
      if (process.getuid?.() === 0 || asks) throw e;
      const w = `no cgroup for ${name}: ${errorMessage(e)}; it runs without resource accounting, limits or freezing (delegate a cgroup to this user to have them)`;
      log("WARN", "cgroup", w);
      req.onWarning?.(w);
    }
    if (cg) {
      const made = cg;
      r.add(() => made.remove());
      log("DEBUG", "cgroup", `created ${JSON.stringify(cg.record().paths)}`);
      writeFileSync(`${rundir}/cgroup.json`, JSON.stringify(cg.record()));
    }
    let deviceProgram: [string, string] | undefined;
    if (cg && dev?.lines.length) {
      writeFileSync(`${rundir}/devices.bpf`, compileDeviceProgram(devicePolicy(dev.lines)));
      deviceProgram = [cg.record().paths.unified!, `${rundir}/devices.bpf`];
    }
    const joinFiles = cg?.joinFiles() ?? [];
    // lxc.seccomp.allow_nesting = 0 (the default): lxt running where a filter is already in
    // force (inside a container) does not stack its own, as LXC does
    const nested = spec.seccomp.profile && !spec.seccomp.allowNesting && /^Seccomp:\s+2$/m.test(readFileSync("/proc/self/status", "utf8"));
    if (nested) {
      const w = `lxc.seccomp.profile is not loaded: a seccomp filter is already in force here (set lxc.seccomp.allow_nesting = 1 to stack it)`;
      log("WARN", "seccomp", w);
      req.onWarning?.(w);
    }
    const seccompFile = spec.seccomp.profile && !nested ? await compiledSeccomp(ctx, spec.seccomp.profile, rundir) : undefined;
    const attachRec = attachRecord(spec, capsToDrop(spec.caps), joinFiles, personalityOf(spec), seccompFile);
    writeFileSync(`${rundir}/attach.json`, JSON.stringify(attachRec));
    // the same for lxt's native front (a plain attach without Bun)
    writeFileSync(`${rundir}/attach.plan`, fastAttachPlan(ctx.lxcpath, ctx.mode === "lxt" && ctx.lxcpath === ctx.defaultLxcpath, attachRec), { mode: 0o600 });
    if (req.rcfile) writeFileSync(`${rundir}/rcfile`, req.rcfile);

    runHostHooks(spec, "pre-start");
    if (spec.hooks["pre-start"].length) log("INFO", "hooks", `ran ${spec.hooks["pre-start"].length} pre-start hook(s)`);
    const fstab = readFstab(spec);
    const planSpec = fstab.length ? { ...spec, mount: { ...spec.mount, entries: [...fstab, ...spec.mount.entries] } } : spec;

    const argv = req.argv?.length ? req.argv : req.mode === "execute" ? spec.executeCmd : undefined;
    const hostHooks = spec.hooks["start-host"].length > 0;
    const nics = planNics(spec);
    if (nics.length) {
      // a NIC on the managed bridge starts it on demand (lxt net start)
      for (const { nic } of nics)
        if (nic.type === "veth" && nic.link && !existsSync(`/sys/class/net/${nic.link}`) && bridgeState(nic.link) === undefined && nic.link === DEFAULT_BRIDGE) startBridge();
      r.add(() => {
        for (const w of teardownNetwork(rundir)) log("WARN", "network", w);
      });
    }
    const mc = cg ? monitorCleanup(cg.record()) : undefined;
    const res = await shimStart({
      spec: planSpec,
      sharePaths: sharePaths(ctx, spec),
      fastCleanup: hostCleanupNeeded(spec) ? undefined : { cgroupDirs: mc?.cgroupDirs ?? [] },
      thaw: mc?.thaw,
      deviceProgram,
      cgroupMounts: spec.mount.auto.cgroup || spec.mount.auto.cgroup2 ? cgroupMounts() : undefined,
      idmapHelpers: idmapHelpers(spec),
      // the container is set up, init not yet started: start-host hooks (they see LXC_PID)
      // after clone, before the container sets itself up: its network
      hostSetup: nics.length ? async (pid) => void setupNetwork(spec, pid, rundir) : undefined,
      seccompFile,
      lsmExec: lsm.exec,
      rootfs: { target: rootfsMountpoint(spec), mount: store },
      keepNetns: nics.some((n) => n.nic.type === "phys"),
      hostBeforeExec: hostHooks ? async (pid) => runHostHooks(spec, "start-host", { LXC_PID: String(pid) }) : undefined,
      rundir,
      cgroupJoinFiles: joinFiles,
      mode: req.mode,
      argv,
      hookEnv: hookEnv(spec),
      cleanupArgv: [...ctx.self, "__cleanup", "-P", ctx.lxcpath, "-n", name, "--rundir", rundir, ...(req.rcfile ? ["--rcfile", req.rcfile] : [])],
    });
    r.success();
    log("NOTICE", "start", `init is running as pid ${res.initPid} (monitor ${res.monitorPid})`);
    // foreground/execute: the monitor has cleaned up itself unless there is host-side work left
    if (req.mode !== "daemon" && existsSync(rundir)) await cleanup(ctx, name, { rundir, rcfile: req.rcfile, spec });
    return { exitCode: res.exitCode, initPid: res.initPid };
  } catch (e) {
    log("ERROR", "start", `failed: ${errorMessage(e)}; undoing what was made`);
    throw e;
  } finally {
    await r.fail();
  }
}
