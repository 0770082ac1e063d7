// The log LXC users know: -o FILE -l LEVEL on any command, or lxc.log.file /
// lxc.log.level in the config (the command line wins). One line per event:
//   lxt-start web 20261124230720.297 INFO     start - created cgroup ...
// Nothing is written unless a file is set; the default level is ERROR, as in LXC.
import { closeSync, openSync, writeSync } from "node:fs";

export const LEVELS = ["TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "ERROR", "CRIT", "ALERT", "FATAL"] as const;
export type Level = (typeof LEVELS)[number];

interface Sink {
  file: string;
  level: number;
  fromCli: boolean;
  fd?: number;
}

let sink: Sink | undefined;
let prefix = "lxt";

/** Parses an LXC log priority: a name (case-insensitive) or 0-8. */
export function parseLevel(v: string): number | undefined {
  if (/^\d$/.test(v) && Number(v) < LEVELS.length) return Number(v);
  const i = LEVELS.indexOf(v.toUpperCase() as Level);
  return i < 0 ? undefined : i;
}

/** From the command line (-o, -l): overrides what a config says later. */
export function setupLog(tool: string, name: string | undefined, file?: string, level?: number): void {
  prefix = `${tool.replace(/^lxt /, "lxt-")}${name ? ` ${name}` : ""}`;
  if (file) sink = { file, level: level ?? 5, fromCli: true };
  else if (level !== undefined) sink = { file: "", level, fromCli: true };
}

/** From the container's config (lxc.log.file, lxc.log.level), unless the command line set them. */
export function configLog(file: string | undefined, level: number): void {
  if (sink?.fromCli) {
    if (!sink.file && file) sink.file = file;
    return;
  }
  if (file) sink = { file, level, fromCli: false };
}

function stamp(): string {
  const d = new Date();
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}`;
}

export function log(level: Level, module: string, msg: string): void {
  if (!sink?.file || LEVELS.indexOf(level) < sink.level) return;
  try {
    sink.fd ??= openSync(sink.file, "a", 0o640);
    writeSync(sink.fd, `${prefix} ${stamp()} ${level.padEnd(8)} ${module} - ${msg}\n`);
  } catch {
    // a log that cannot be written must not fail the command
    sink.file = "";
  }
}

export function closeLog(): void {
  if (sink?.fd !== undefined) closeSync(sink.fd);
  if (sink) sink.fd = undefined;
}
