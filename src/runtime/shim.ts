// Driving the C shim: write the plan, spawn it, read its status; the run
// dir's state file written by the monitor; signalling the container.
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import type { ContainerSpec, Namespace } from "../spec/types.ts";
import { LxtError, NotSupportedError, ShimError } from "../util/errors.ts";
import { buildStartPlan, capsToDrop, encodePlan, type Op } from "./plan.ts";

export interface StartOptions {
  spec: ContainerSpec;
  rundir: string;
  cgroupJoinFiles: string[];
  mode: "daemon" | "foreground" | "execute";
  argv?: string[];
  hookEnv: Record<string, string>;
  cleanupArgv: string[];
  logFile?: string;
  logLevel?: number;
}

export type RunState = "STARTING" | "RUNNING" | "STOPPING" | "ABORTING" | "STOPPED";
export interface RuntimeState {
  state: RunState;
  initPid?: number;
  monitorPid?: number;
  /** wait(2) status of init once it exited */
  exitStatus?: number;
  monitorAlive: boolean;
}

export function shimPath(): string {
  if (process.env.LXT_SHIM) return process.env.LXT_SHIM;
  const exe = process.execPath;
  const cands = [`${exe.slice(0, exe.lastIndexOf("/"))}/../native/build/lxt-shim`, `${import.meta.dir}/../../native/build/lxt-shim`];
  return cands.find((c) => existsSync(c)) ?? cands[cands.length - 1]!;
}

function procStart(pid: number): string | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    return s.slice(s.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** Reads RUNDIR/state ("STATE INITPID MONITORPID MONSTART EXIT"); checks the monitor is that same process. */
export function readRuntimeState(rundir: string): RuntimeState | null {
  let t: string;
  try {
    t = readFileSync(`${rundir}/state`, "utf8");
  } catch {
    return null;
  }
  const [state, init, mon, start, exit] = t.trim().split(" ");
  const monitorPid = Number(mon);
  const alive = monitorPid > 0 && procStart(monitorPid) === start;
  const ex = Number(exit);
  return { state: state as RunState, initPid: Number(init) || undefined, monitorPid, exitStatus: ex >= 0 ? ex : undefined, monitorAlive: alive };
}

function lastError(rundir: string): ShimError | undefined {
  let t = "";
  try {
    t = readFileSync(`${rundir}/status`, "utf8");
  } catch {
    return undefined;
  }
  for (const line of t.split("\n").reverse()) {
    if (!line.includes('"error"')) continue;
    const e = JSON.parse(line) as { step: string; errno: number; msg: string };
    return new ShimError(e.step, e.errno, `start failed at ${e.step}: ${e.msg}`, "see the step above; `lxt checkconfig` tells what the host lacks");
  }
  return undefined;
}

export async function startContainer(o: StartOptions): Promise<{ monitorPid: number; initPid: number; exitCode?: number }> {
  const ops = buildStartPlan(o, process.env);
  const planFile = `${o.rundir}/plan`;
  writeFileSync(planFile, encodePlan(ops), { mode: 0o600 });
  rmSync(`${o.rundir}/status`, { force: true });
  const shim = shimPath();
  if (!existsSync(shim)) throw new LxtError(`the native shim \`${shim}\` is missing`, "run `npm install` (it builds native/build/lxt-shim)");
  const fg = o.mode !== "daemon";
  const p = Bun.spawn([shim, "start", planFile], { stdio: fg ? ["inherit", "inherit", "inherit"] : ["ignore", "ignore", "inherit"] });
  const code = await p.exited;
  if (fg) {
    const err = lastError(o.rundir);
    if (err) throw err;
    const st = readRuntimeState(o.rundir);
    return { monitorPid: p.pid, initPid: st?.initPid ?? 0, exitCode: code };
  }
  // daemon: the first process returns at once; the monitor records RUNNING, or STOPPED after an error
  const end = Date.now() + 30_000;
  let delay = 1;
  for (;;) {
    const st = readRuntimeState(o.rundir);
    if (st?.state === "RUNNING" && st.initPid) return { monitorPid: st.monitorPid!, initPid: st.initPid };
    const err = lastError(o.rundir);
    if (err) {
      // wait for the monitor to finish its cleanup before the caller reverts
      while (readRuntimeState(o.rundir)?.monitorAlive) await Bun.sleep(2);
      throw err;
    }
    if (code !== 0 || Date.now() > end || (st && !st.monitorAlive && st.state === "STOPPED"))
      throw new ShimError("start", 0, `start failed: the monitor ${code !== 0 ? `exited with ${code}` : "did not report RUNNING"}`);
    await Bun.sleep(delay);
    delay = Math.min(delay * 2, 20);
  }
}

/** Signals the container's init: "kill SIG" or "stop SIG TIMEOUT_MS" (the caller escalates). */
export async function monitorRequest(rundir: string, line: string): Promise<string> {
  const st = readRuntimeState(rundir);
  if (!st?.monitorAlive || !st.initPid) throw new LxtError("the container's monitor is not running");
  const [cmd, sig] = line.split(" ");
  if (cmd !== "kill" && cmd !== "stop") throw new LxtError(`unknown monitor request \`${line}\``);
  process.kill(st.initPid, Number(sig));
  return "ok";
}

export interface AttachOptions {
  initPid: number;
  namespaces?: Namespace[];
  cgroupJoinFiles: string[];
  env: Record<string, string>;
  uid: number;
  gid: number;
  cwd: string;
  caps?: ContainerSpec["caps"];
  noNewPrivs: boolean;
  argv?: string[];
}

const NS_ORDER: Namespace[] = ["user", "cgroup", "ipc", "uts", "net", "pid", "time", "mnt"];

export async function attach(o: AttachOptions): Promise<number> {
  const ops: Op[] = [["pid", String(o.initPid)]];
  for (const ns of NS_ORDER) {
    if (o.namespaces && !o.namespaces.includes(ns)) continue;
    try {
      // enter only the namespaces the container does not share with us
      if (statSync(`/proc/${o.initPid}/ns/${ns}`).ino === statSync(`/proc/self/ns/${ns}`).ino) continue;
    } catch {
      continue;
    }
    ops.push(["ns", ns]);
  }
  for (const f of o.cgroupJoinFiles) ops.push(["join", f]);
  if (o.caps) {
    const d = capsToDrop(o.caps);
    if (d.length) ops.push(["capdrop", ...d.map(String)]);
  }
  if (o.noNewPrivs) ops.push(["nonewprivs"]);
  ops.push(["ids", String(o.gid), String(o.uid)], ["chdir", o.cwd]);
  for (const [k, v] of Object.entries(o.env)) ops.push(["env", `${k}=${v}`]);
  ops.push(["exec", ...(o.argv?.length ? o.argv : ["/bin/sh"])]);
  const file = `/tmp/.lxt-attach-${process.pid}-${Date.now()}`;
  writeFileSync(file, encodePlan(ops), { mode: 0o600 });
  try {
    const p = Bun.spawn([shimPath(), "attach", file], { stdio: ["inherit", "inherit", "inherit"] });
    return await p.exited;
  } finally {
    rmSync(file, { force: true });
  }
}

export async function consoleAttach(_rundir: string, _tty: number, _escape: string): Promise<void> {
  throw new NotSupportedError("lxt console is not available yet: the monitor does not serve its ptys over a socket", "use lxt attach -n NAME for a shell");
}
