// lxt wait / lxt monitor: state changes are seen by watching the run root
// (the monitor rewrites RUNDIR/state on every transition) and by polling the
// freezer, which has no file event.
import { existsSync, mkdirSync, watch, type FSWatcher } from "node:fs";
import type { Context } from "./context.ts";
import { status, type State } from "./state.ts";

/** Calls `onTick` whenever something may have changed (file event or a 100 ms tick) until it returns true. */
export function watchStates(ctx: Context, onTick: () => boolean, timeoutSec: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (onTick()) return resolve(true);
    if (!existsSync(ctx.runroot)) mkdirSync(ctx.runroot, { recursive: true });
    let watcher: FSWatcher | undefined;
    const done = (v: boolean) => {
      watcher?.close();
      clearInterval(iv);
      if (to) clearTimeout(to);
      resolve(v);
    };
    try {
      watcher = watch(ctx.runroot, { recursive: true }, () => onTick() && done(true));
    } catch {
      watcher = undefined;
    }
    const iv = setInterval(() => onTick() && done(true), 100);
    const to = timeoutSec >= 0 ? setTimeout(() => done(false), timeoutSec * 1000) : undefined;
  });
}

export function waitState(ctx: Context, name: string, states: State[], timeoutSec: number): Promise<boolean> {
  return watchStates(ctx, () => states.includes(status(ctx, name).state), timeoutSec);
}
