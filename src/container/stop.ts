// lxt stop / lxt kill: ask the monitor to signal init, wait for the monitor
// (which runs cleanup as its last act) to be gone.
import { monitorRequest } from "../runtime/shim.ts";
import { LxtError, StateError } from "../util/errors.ts";
import { cleanup } from "./cleanup.ts";
import { runDir, type Context } from "./context.ts";
import { openCgroup, status } from "./state.ts";
import { loadSpec } from "./state.ts";

export interface StopOptions {
  /** seconds to wait for a clean halt before SIGKILL; -1 waits forever */
  timeout?: number;
  kill?: boolean;
  reboot?: boolean;
  nokill?: boolean;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Waits until pid is gone; false on timeout (ms < 0 waits forever). */
export async function waitGone(pid: number, ms: number): Promise<boolean> {
  const end = ms < 0 ? Infinity : Date.now() + ms;
  let delay = 2;
  while (alive(pid)) {
    if (Date.now() >= end) return false;
    await Bun.sleep(delay);
    delay = Math.min(delay * 2, 50);
  }
  return true;
}

export class NotRunningError extends StateError {
  override name = "NotRunningError";
  override exitCode = 2;
}

export async function stop(ctx: Context, name: string, o: StopOptions = {}): Promise<void> {
  const rundir = runDir(ctx, name);
  const st = status(ctx, name);
  if (st.stale) await cleanup(ctx, name, { rundir, stale: true });
  if (st.state === "STOPPED" || !st.monitorPid) throw new NotRunningError(`${name} is not running`);
  const spec = loadSpec(ctx, name);
  // Signals are not delivered to frozen tasks: thaw first.
  if (st.state === "FROZEN" || st.state === "FREEZING") openCgroup(rundir)?.thaw();

  if (o.reboot) {
    const monitor = st.monitorPid;
    await monitorRequest(rundir, `kill ${spec.signals.reboot}`);
    const t = (o.timeout ?? 60) * 1000;
    if (!(await waitGone(monitor, t))) throw new LxtError(`${name} did not reboot within ${o.timeout ?? 60} s`, "try lxt stop -k");
    const end = Date.now() + 10_000;
    while (status(ctx, name).state !== "RUNNING") {
      if (Date.now() > end) throw new LxtError(`${name} did not come back after reboot`, `see lxt info -n ${name}`);
      await Bun.sleep(10);
    }
    return;
  }

  const monitor = st.monitorPid;
  if (o.kill) {
    await monitorRequest(rundir, `kill 9`);
  } else {
    const timeout = o.timeout ?? 60;
    const ms = timeout < 0 ? -1 : timeout * 1000;
    // The monitor escalates to SIGKILL after the timeout unless --nokill.
    await monitorRequest(rundir, `stop ${spec.signals.halt} ${o.nokill ? -1 : ms}`);
    if (!(await waitGone(monitor, ms < 0 ? -1 : ms + 5000))) {
      if (o.nokill) throw new LxtError(`${name} did not stop within ${timeout} s`, "lxt stop -k kills it");
      await monitorRequest(rundir, `kill 9`);
    } else return;
  }
  if (!(await waitGone(monitor, 10_000))) throw new LxtError(`${name}: the monitor (pid ${monitor}) did not exit after SIGKILL of init`, `check \`ps -p ${monitor}\``);
}

export async function killContainer(ctx: Context, name: string, signal: number): Promise<void> {
  const st = status(ctx, name);
  if (st.state === "STOPPED" || !st.initPid) throw new NotRunningError(`${name} is not running`);
  await monitorRequest(runDir(ctx, name), `kill ${signal}`);
}
