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

/** Start time of a live process (field 22 of /proc/PID/stat); undefined when gone or a zombie. */
function procStart(pid: number): string | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return f[0] === "Z" || f[0] === "X" ? undefined : f[19];
  } catch {
    return undefined;
  }
}

/** A process that exists and has not exited: a zombie waiting for its reaper counts as gone. */
export function processAlive(pid: number): boolean {
  return procStart(pid) !== undefined;
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

interface ShimEvent {
  event: "monitor" | "sync" | "running" | "exec" | "error";
  pid?: number;
  phase?: "clone" | "exec";
  step?: string;
  errno?: number;
  msg?: string;
}

/** JSON lines from the shim's status pipe, until every writer has closed it. */
async function* shimEvents(fd: number): AsyncGenerator<ShimEvent> {
  const reader = Bun.file(fd).stream().getReader();
  const dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const r = await reader.read();
    if (r.done) return;
    buf += dec.decode(r.value, { stream: true });
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (line) yield JSON.parse(line) as ShimEvent;
    }
  }
}

function shimError(e: ShimEvent): ShimError {
  return new ShimError(e.step ?? "start", e.errno ?? 0, `start failed at ${e.step}: ${e.msg}`, "see the step above; `lxt checkconfig` tells what the host lacks");
}

/**
 * Runs `lxt-shim start`. The shim reports on an inherited pipe (fd 3): the
 * monitor's pid, sync points where the host acts (answered through the
 * RUNDIR/sync FIFO), RUNNING, or an error; the pipe closes when init runs or
 * when the failed start is over (the monitor has exited, nothing to wait for).
 */
export async function startContainer(o: StartOptions): Promise<{ monitorPid: number; initPid: number; exitCode?: number }> {
  const ops = buildStartPlan({ ...o, syncClone: o.hostSetup !== undefined, syncExec: o.hostBeforeExec !== undefined }, process.env);
  const planFile = `${o.rundir}/plan`;
  writeFileSync(planFile, encodePlan(ops), { mode: 0o600 });
  const shim = shimPath();
  if (!existsSync(shim)) throw new LxtError(`the native shim \`${shim}\` is missing`, "run `npm install` (it builds native/build/lxt-shim)");
  const fg = o.mode !== "daemon";
  const p = Bun.spawn([shim, "start", planFile], { stdio: fg ? ["inherit", "inherit", "inherit", "pipe"] : ["ignore", "ignore", "inherit", "pipe"] });
  let monitorPid = fg ? p.pid : 0;
  let failure: unknown;
  for await (const ev of shimEvents(p.stdio[3] as unknown as number)) {
    if (ev.event === "monitor") monitorPid = ev.pid!;
    else if (ev.event === "error") failure ??= shimError(ev);
    else if (ev.event === "sync" && failure === undefined) {
      const fn = ev.phase === "clone" ? o.hostSetup : o.hostBeforeExec;
      try {
        await fn?.(ev.pid!);
        writeFileSync(`${o.rundir}/sync`, "g");
      } catch (e) {
        failure = e;
        writeFileSync(`${o.rundir}/sync`, "a");
      }
    } else if (ev.event === "running" && failure === undefined) {
      if (!fg) return { monitorPid, initPid: ev.pid! };
      return { monitorPid, initPid: ev.pid!, exitCode: await p.exited };
    }
  }
  if (failure !== undefined) {
    if (fg) await p.exited;
    throw failure;
  }
  const code = await p.exited;
  throw new ShimError("start", 0, `start failed: the monitor ${code !== 0 ? `exited with ${code}` : "ended"} without reporting RUNNING`);
}

export interface ControlReply {
  /** the monitor's one-line answer */
  answer: Promise<string>;
  /** resolves when the monitor closes the connection */
  closed: Promise<void>;
}

/** One request line to the monitor's control socket (RUNDIR/sock). */
export function controlRequest(rundir: string, line: string, keepOpen = false): ControlReply {
  const ans = Promise.withResolvers<string>();
  const closed = Promise.withResolvers<void>();
  let text = "";
  const fail = (e: unknown) => {
    ans.reject(e);
    closed.resolve();
  };
  Bun.connect({
    unix: `${rundir}/sock`,
    socket: {
      open(sock) {
        sock.write(`${line}\n`);
      },
      data(sock, chunk) {
        text += chunk.toString();
        if (text.includes("\n")) {
          if (!keepOpen) sock.end();
          ans.resolve(text.trim());
        }
      },
      close() {
        ans.resolve(text.trim());
        closed.resolve();
      },
      error(_s, e) {
        fail(e);
      },
      connectError(_s, e) {
        fail(e);
      },
    },
  }).catch(fail);
  return { answer: ans.promise, closed: closed.promise };
}

/**
 * Signals the container's init through its monitor: "kill SIG" or "stop SIG
 * TIMEOUT_MS" (STOPPING, then SIGKILL after the timeout). The result's
 * `done` resolves once the container is stopped and cleaned up (the monitor
 * and its cleanup hold the connection until then).
 */
export async function monitorRequest(rundir: string, line: string): Promise<{ done: Promise<void> }> {
  const st = readRuntimeState(rundir);
  if (!st?.monitorAlive || !st.initPid) throw new LxtError("the container's monitor is not running");
  const [cmd, sig] = line.split(" ");
  if (cmd !== "kill" && cmd !== "stop") throw new LxtError(`unknown monitor request \`${line}\``);
  const r = controlRequest(rundir, `${line} wait`, true);
  let answer: string;
  try {
    answer = await r.answer;
  } catch {
    // a monitor from an older lxt, or its socket removed: signal init directly
    process.kill(st.initPid, Number(sig));
    return { done: waitForExit(st.monitorPid!) };
  }
  if (answer !== "ok") throw new LxtError(`the monitor refused \`${line}\`: ${answer.replace(/^err /, "")}`);
  return { done: r.closed };
}

/** Polls until pid has exited (a zombie counts as exited). */
export async function waitForExit(pid: number): Promise<void> {
  let delay = 2;
  while (processAlive(pid)) {
    await Bun.sleep(delay);
    delay = Math.min(delay * 2, 50);
  }
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
