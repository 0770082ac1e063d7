// Starting a container through the C shim (write the plan, spawn it, follow
// its events) and talking to its monitor's control socket.
import { existsSync, writeFileSync } from "node:fs";
import type { ContainerSpec, Namespace } from "../spec/types.ts";
import { LxtError, ShimError } from "../util/errors.ts";
import { buildStartPlan, encodePlan, type CgroupMount, type PlanInput } from "./plan.ts";
import { processAlive, readRuntimeState, shimPath } from "./statefile.ts";

export { processAlive, readRuntimeState, shimPath };

export interface StartOptions {
  spec: ContainerSpec;
  rundir: string;
  cgroupJoinFiles: string[];
  mode: "daemon" | "foreground" | "execute";
  argv?: string[];
  hookEnv: Record<string, string>;
  cleanupArgv: string[];
  /** runs after clone, before the container's setup (NICs); a throw aborts the start */
  hostSetup?: (initPid: number) => Promise<void>;
  /** runs after the container's setup, just before init (start-host hooks); a throw aborts the start */
  hostBeforeExec?: (initPid: number) => Promise<void>;
  sharePaths?: Partial<Record<Namespace, string>>;
  cgroupMounts?: CgroupMount[];
  fastCleanup?: PlanInput["fastCleanup"];
  thaw?: PlanInput["thaw"];
  deviceProgram?: PlanInput["deviceProgram"];
  keepNetns?: boolean;
  seccompFile?: string;
  lsmExec?: [string, string];
  rootfs?: PlanInput["rootfs"];
  idmapHelpers?: { uid: string; gid: string };
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

