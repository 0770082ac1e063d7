// Small cgroupfs file helpers. Values go in one write(2) each, without
// O_CREAT (a missing cgroup file must fail, not appear as a regular file).
// node:fs is already loaded on the start path (container/start.ts), and Bun
// has no synchronous mkdir/rmdir/readdir of its own.
import { closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, writeSync } from "node:fs";

export function errnoCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** Writes a value with a single write(2); throws the raw errno error. */
export function writeValue(path: string, value: string): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_TRUNC);
  try {
    writeSync(fd, value);
  } finally {
    closeSync(fd);
  }
}

export function tryWrite(path: string, value: string): boolean {
  try {
    writeValue(path, value);
    return true;
  } catch {
    return false;
  }
}

export function exists(path: string): boolean {
  return existsSync(path);
}

/** Creates one directory; false when it already existed. */
export function mkdirOne(path: string): boolean {
  try {
    mkdirSync(path);
    return true;
  } catch (e) {
    if (errnoCode(e) === "EEXIST") return false;
    throw e;
  }
}

export function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return [];
  }
}

/** rmdir bottom-up (cgroupfs directories hold only kernel files). Missing is fine. */
export function rmdirTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const d of subdirs(dir)) rmdirTree(`${dir}/${d}`);
  try {
    rmdirSync(dir);
  } catch (e) {
    if (errnoCode(e) !== "ENOENT") throw e;
  }
}

/** PIDs listed in cgroup.procs of dir and every cgroup below it. */
export function procsIn(dir: string, out: Set<number> = new Set()): Set<number> {
  for (const l of (readText(`${dir}/cgroup.procs`) ?? "").split("\n")) if (l) out.add(Number(l));
  for (const d of subdirs(dir)) procsIn(`${dir}/${d}`, out);
  return out;
}

// made on first use: a SharedArrayBuffer costs ~0.3 ms of Bun's start, and most commands never sleep
let sleeper: Int32Array | undefined;
export function sleepMs(ms: number): void {
  sleeper ??= new Int32Array(new SharedArrayBuffer(4));
  Atomics.wait(sleeper, 0, 0, ms);
}

/** Sends a signal, ignoring processes that are already gone. */
export function signal(pid: number, sig: number): void {
  try {
    process.kill(pid, sig);
  } catch {
    // exited meanwhile
  }
}

/** The number after `key ` on its own line of a flat-keyed file (memory.stat, cpu.stat). */
export function statValue(text: string | undefined, key: string): number | undefined {
  if (!text) return undefined;
  for (const l of text.split("\n")) {
    const sp = l.indexOf(" ");
    if (sp > 0 && l.slice(0, sp) === key) return Number(l.slice(sp + 1));
  }
  return undefined;
}

export function numberIn(path: string): number | undefined {
  const t = readText(path)?.trim();
  if (t === undefined || t === "" || t === "max") return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}
