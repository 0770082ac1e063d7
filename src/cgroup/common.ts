// What the v1 and v2 drivers share: writing a setting with a clear error,
// freezing with a wait, signalling every process, removal with retries.
import { LxtError, NotFoundError, StateError } from "../util/errors.ts";
import { errnoCode, readText, rmdirTree, signal, sleepMs, writeValue } from "./fs.ts";
import type { FreezerState } from "./types.ts";

const WHY: Record<string, string> = {
  EINVAL: "the kernel rejected the value (EINVAL)",
  ERANGE: "the value is out of range (ERANGE)",
  EBUSY: "the cgroup is busy (EBUSY)",
  EPERM: "not permitted (EPERM)",
  EACCES: "permission denied (EACCES)",
  ENOSPC: "no space: a parent limit or an empty cpuset does not allow it (ENOSPC)",
  EOPNOTSUPP: "the kernel does not support this (EOPNOTSUPP)",
  ESRCH: "no such process (ESRCH)",
};

/** Writes one cgroup file; errors name the key, the value and what the kernel said. */
export function writeSetting(file: string, key: string, value: string, controller: string): void {
  try {
    writeValue(file, value);
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT")
      throw new NotFoundError(`set cgroup \`${key}\`: the \`${controller}\` controller has no file \`${key}\``, "check the spelling against the kernel's cgroup documentation (lxt cgroup -n NAME KEY reads a value)");
    throw new LxtError(
      `set cgroup \`${key}\` to \`${value}\`: ${(code && WHY[code]) ?? (e as Error).message}`,
      code === "EINVAL" ? "check the value's format for this file; sizes such as 512M are passed through for the kernel to parse" : undefined,
      { cause: e },
    );
  }
}

export function readSetting(file: string, key: string, controller: string): string {
  const v = readText(file);
  if (v === undefined) throw new NotFoundError(`read cgroup \`${key}\`: the \`${controller}\` controller has no file \`${key}\``, "check the spelling against the kernel's cgroup documentation");
  return v.replace(/\n$/, "");
}

/** Polls until the freezer reports FROZEN; false on timeout. */
export function waitFrozen(state: () => FreezerState, request: () => void, timeoutMs: number): boolean {
  const end = Date.now() + timeoutMs;
  for (let i = 0; ; i++) {
    if (state() === "FROZEN") return true;
    if (Date.now() >= end) return false;
    sleepMs(Math.min(2 + i * 2, 50));
    if (i % 10 === 9) request(); // a v1 freezer can need a nudge to finish
  }
}

export function freezeTimeout(what: string): StateError {
  return new StateError(`freeze \`${what}\`: still FREEZING after 5 s`, "a process may be in uninterruptible sleep (D state); retry, or thaw it with lxt unfreeze");
}

/** Signals every listed process (freezing around it is the caller's choice). */
export function signalAll(pids: number[], sig: number): void {
  for (const p of pids) signal(p, sig);
}

/**
 * Kills what is left and removes the directories bottom-up, retrying while
 * exiting processes still hold them (about 2 s in all).
 */
export function removeWithRetry(dirs: string[], pids: () => number[], killAll: () => void, what: string): void {
  let last: unknown;
  for (let i = 0; i < 40; i++) {
    if (pids().length) killAll();
    try {
      for (const d of dirs) rmdirTree(d);
      return;
    } catch (e) {
      last = e;
      if (errnoCode(e) !== "EBUSY") break;
      sleepMs(i < 10 ? 5 : 50);
    }
  }
  const left = pids();
  throw new LxtError(
    `remove cgroup \`${what}\`: ${left.length ? `processes ${left.slice(0, 8).join(" ")} are still in it` : ((last as Error)?.message ?? "unknown error")}`,
    "a process may be stuck in uninterruptible sleep; retry lxt stop, or kill it and remove the directory by hand",
    { cause: last },
  );
}

/** Undoes a failed create: removes the directories it made, newest first; never throws. */
export function undoMade(made: string[]): void {
  for (const d of [...made].reverse()) {
    try {
      rmdirTree(d);
    } catch {
      // best effort: keep undoing
    }
  }
}
