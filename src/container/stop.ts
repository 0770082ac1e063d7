// lxt stop / lxt kill: ask the monitor to signal init; stop then waits until
// the monitor and the cleanup it execs as its last act let go of the request's
// connection.
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

/** Whether p settles within ms (ms < 0: waits forever). */
async function within(p: Promise<void>, ms: number): Promise<boolean> {
  if (ms < 0) return p.then(() => true);
  let timer: Timer | undefined;
  const t = new Promise<boolean>((res) => (timer = setTimeout(() => res(false), ms)));
  const r = await Promise.race([p.then(() => true), t]);
  clearTimeout(timer);
  return r;
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
    // the cleanup that follows init's exit starts it again before it lets go of the connection
    const r = await monitorRequest(rundir, `kill ${spec.signals.reboot}`);
    if (!(await within(r.done, (o.timeout ?? 60) * 1000))) throw new LxtError(`${name} did not reboot within ${o.timeout ?? 60} s`, "try lxt stop -k");
    const end = Date.now() + 10_000;
    while (status(ctx, name).state !== "RUNNING") {
      if (Date.now() > end) throw new LxtError(`${name} did not come back after reboot`, `see lxt info -n ${name}`);
      await Bun.sleep(10);
    }
    return;
  }

  if (!o.kill) {
    const timeout = o.timeout ?? 60;
    const ms = timeout < 0 ? -1 : timeout * 1000;
    // The monitor escalates to SIGKILL after the timeout unless --nokill.
    const r = await monitorRequest(rundir, `stop ${spec.signals.halt} ${o.nokill ? -1 : ms}`);
    if (await within(r.done, ms < 0 ? -1 : ms + 5000)) return;
    if (o.nokill) throw new LxtError(`${name} did not stop within ${timeout} s`, "lxt stop -k kills it");
  }
  const r = await monitorRequest(rundir, "kill 9");
  if (!(await within(r.done, 10_000))) throw new LxtError(`${name}: the monitor (pid ${st.monitorPid}) did not finish after SIGKILL of init`, `check \`ps -p ${st.monitorPid}\``);
}

export async function killContainer(ctx: Context, name: string, signal: number): Promise<void> {
  const st = status(ctx, name);
  if (st.state === "STOPPED" || !st.initPid) throw new NotRunningError(`${name} is not running`);
  await monitorRequest(runDir(ctx, name), `kill ${signal}`);
}
