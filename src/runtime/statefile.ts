// The monitor's state file (RUNDIR/state, "STATE INITPID MONITORPID
// MONSTART EXIT") and the shim's path: what every command that looks at a
// container needs, kept apart from the start machinery so that light commands
// (attach, ls, info) load little.
import { existsSync, readFileSync } from "node:fs";

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
