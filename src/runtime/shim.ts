// Driving the C shim: write the plan, spawn it, read its status; the run
// dir's state file written by the monitor; signalling the container.
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import type { ContainerSpec, Namespace } from "../spec/types.ts";
import { LxtError, ShimError } from "../util/errors.ts";
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
  /** runs after clone, before the container's setup (NICs); a throw aborts the start */
  hostSetup?: (initPid: number) => Promise<void>;
  /** runs after the container's setup, just before init (start-host hooks); a throw aborts the start */
  hostBeforeExec?: (initPid: number) => Promise<void>;
  sharePaths?: Partial<Record<Namespace, string>>;
  idmapHelpers?: { uid: string; gid: string };
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
  const ops = buildStartPlan({ ...o, syncClone: o.hostSetup !== undefined, syncExec: o.hostBeforeExec !== undefined }, process.env);
  const planFile = `${o.rundir}/plan`;
  writeFileSync(planFile, encodePlan(ops), { mode: 0o600 });
  rmSync(`${o.rundir}/status`, { force: true });
  const shim = shimPath();
  if (!existsSync(shim)) throw new LxtError(`the native shim \`${shim}\` is missing`, "run `npm install` (it builds native/build/lxt-shim)");
  const fg = o.mode !== "daemon";
  const p = Bun.spawn([shim, "start", planFile], { stdio: fg ? ["inherit", "inherit", "inherit"] : ["ignore", "ignore", "inherit"] });
  let exited: number | undefined;
  void p.exited.then((c) => (exited = c));
  // The monitor reports through RUNDIR/status and RUNDIR/state: RUNNING, an
  // error, or (with hostSetup) a stop after clone for the host's part.
  const end = Date.now() + 30_000;
  let delay = 1;
  const synced = new Set<string>();
  let seen = false;
  for (;;) {
    const err = lastError(o.rundir);
    if (err) {
      // wait for the monitor to finish its cleanup before the caller reverts
      if (fg) await p.exited;
      else while (readRuntimeState(o.rundir)?.monitorAlive) await Bun.sleep(2);
      throw err;
    }
    const st = readRuntimeState(o.rundir);
    // foreground/execute: a short-lived container may be STOPPED again before we look
    if ((st?.state === "RUNNING" || (fg && exited !== undefined && st?.state === "STOPPED")) && st.initPid) {
      if (!fg) return { monitorPid: st.monitorPid!, initPid: st.initPid };
      const code = await p.exited;
      return { monitorPid: p.pid, initPid: st.initPid, exitCode: code };
    }
    const sync = syncRequested(o.rundir, synced);
    if (sync) {
      synced.add(sync.phase);
      const fn = sync.phase === "clone" ? o.hostSetup : o.hostBeforeExec;
      try {
        await fn?.(sync.pid);
      } catch (e) {
        writeFileSync(`${o.rundir}/sync`, "a");
        if (fg) await p.exited;
        else while (readRuntimeState(o.rundir)?.monitorAlive) await Bun.sleep(2);
        throw e;
      }
      writeFileSync(`${o.rundir}/sync`, "g");
      continue;
    }
    if (st) seen = true;
    const gone = fg
      ? exited !== undefined
      : (exited !== undefined && exited !== 0) || (st !== null && !st.monitorAlive && st.state === "STOPPED") || (seen && st === null);
    if (gone || Date.now() > end) {
      if (fg && exited !== undefined) {
        const e2 = lastError(o.rundir);
        if (e2) throw e2;
      }
      throw new ShimError("start", 0, `start failed: the monitor ${exited !== undefined && exited !== 0 ? `exited with ${exited}` : "did not report RUNNING"}`);
    }
    await Bun.sleep(delay);
    delay = Math.min(delay * 2, 20);
  }
}

/** A sync phase the monitor is waiting in ("clone", "exec") that the host has not answered yet. */
function syncRequested(rundir: string, done: Set<string>): { phase: string; pid: number } | undefined {
  let t: string;
  try {
    t = readFileSync(`${rundir}/status`, "utf8");
  } catch {
    return undefined;
  }
  for (const m of t.matchAll(/"event":"sync","phase":"(\w+)","pid":(\d+)/g)) if (!done.has(m[1]!)) return { phase: m[1]!, pid: Number(m[2]) };
  return undefined;
}

/** One request line to the monitor's control socket (RUNDIR/sock); its one-line answer. */
export async function controlRequest(rundir: string, line: string): Promise<string> {
  const { promise, resolve, reject } = Promise.withResolvers<string>();
  let answer = "";
  try {
    await Bun.connect({
      unix: `${rundir}/sock`,
      socket: {
        open(sock) {
          sock.write(`${line}\n`);
        },
        data(sock, chunk) {
          answer += chunk.toString();
          if (answer.includes("\n")) {
            sock.end();
            resolve(answer.trim());
          }
        },
        close() {
          resolve(answer.trim());
        },
        error(_s, e) {
          reject(e);
        },
        connectError(_s, e) {
          reject(e);
        },
      },
    });
  } catch (e) {
    reject(e);
  }
  return promise;
}

/** Signals the container's init through its monitor: "kill SIG" or "stop SIG TIMEOUT_MS" (STOPPING, then SIGKILL after the timeout). */
export async function monitorRequest(rundir: string, line: string): Promise<string> {
  const st = readRuntimeState(rundir);
  if (!st?.monitorAlive || !st.initPid) throw new LxtError("the container's monitor is not running");
  const [cmd, sig] = line.split(" ");
  if (cmd !== "kill" && cmd !== "stop") throw new LxtError(`unknown monitor request \`${line}\``);
  let answer: string;
  try {
    answer = await controlRequest(rundir, line);
  } catch {
    // a monitor from an older lxt, or its socket removed: signal init directly
    process.kill(st.initPid, Number(sig));
    return "ok";
  }
  if (answer !== "ok") throw new LxtError(`the monitor refused \`${line}\`: ${answer.replace(/^err /, "")}`);
  return answer;
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

/** `lxt console`: the C client connects to the monitor's socket and proxies the terminal. */
export async function consoleAttach(rundir: string, tty: number, escape: string): Promise<number> {
  const p = Bun.spawn([shimPath(), "console", `${rundir}/sock`, String(tty), escape], { stdio: ["inherit", "inherit", "inherit"] });
  return await p.exited;
}
