// Where containers live: the lxcpath, the run dir, the default config, and
// how the monitor calls lxt back. Two modes: `lxt` (its own defaults, so it
// installs beside LXC) and `lxc` (invoked as lxc-*: LXC's own defaults, as a
// drop-in must).
import { existsSync } from "node:fs";
import { systemConfigItem } from "../config/system.ts";
import { LxtError, NotFoundError } from "../util/errors.ts";

export type Mode = "lxt" | "lxc";

export interface Context {
  mode: Mode;
  lxcpath: string;
  /** the mode's default lxcpath (lxc.lxcpath of the system config) */
  defaultLxcpath: string;
  /** parent of every container's run dir */
  runroot: string;
  defaultConfig: string;
  /** argv prefix that runs this lxt again (the monitor uses it for cleanup) */
  self: string[];
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.+-]*$/;

/** Refuses names that could not be a directory entry or a hostname-like label. */
export function checkName(name: string | undefined): string {
  if (!name) throw new LxtError("no container name given", "pass one with -n NAME");
  if (name.length > 64 || !NAME_RE.test(name) || name === "." || name === "..")
    throw new LxtError(
      `invalid container name \`${name}\``,
      "use letters, digits, '.', '_', '+' and '-' (at most 64 characters, not starting with a punctuation mark)",
    );
  return name;
}

function hash8(s: string): string {
  return Bun.hash.wyhash(s).toString(16).padStart(16, "0").slice(0, 8);
}

/** The argv that re-runs lxt: the compiled binary itself, or bun + the entry script. */
function selfArgv(): string[] {
  const main = Bun.main;
  if (main.startsWith("/$bunfs/") || main.startsWith("B:/~BUN/")) return [process.execPath];
  return [process.execPath, main];
}

/**
 * An ordinary user's run base: $XDG_RUNTIME_DIR/lxt, else /run/user/UID/lxt
 * when the session has that dir, else ~/.cache/lxt/run (as LXC falls back to
 * ~/.cache/lxc/run). The native front (native/shim.c cmd_front) mirrors this.
 */
function userRunBase(uid: number): string {
  if (process.env.XDG_RUNTIME_DIR) return `${process.env.XDG_RUNTIME_DIR}/lxt`;
  if (existsSync(`/run/user/${uid}`)) return `/run/user/${uid}/lxt`;
  return `${process.env.HOME ?? `/tmp/lxt-${uid}`}/.cache/lxt/run`;
}

export function makeContext(mode: Mode, lxcpathOpt?: string): Context {
  // an ordinary user's containers live in their home (~/.local/share/lxt), as LXC's do
  const uid = process.getuid?.() ?? 0;
  const defaultLxcpath = systemConfigItem("lxc.lxcpath", mode)!;
  const lxcpath = (lxcpathOpt ?? process.env.LXT_LXCPATH ?? defaultLxcpath).replace(/\/+$/, "") || "/";
  const base = process.env.LXT_RUNDIR ?? (uid === 0 ? "/run/lxt" : userRunBase(uid));
  // The default lxcpath gets /run/lxt/NAME; any other one a hashed subdir, so
  // two lxcpaths holding the same name never share a run dir.
  const runroot = lxcpath === defaultLxcpath && !process.env.LXT_RUNDIR ? base : `${base}/${hash8(lxcpath)}`;
  const defaultConfig = process.env.LXT_DEFAULT_CONFIG ?? systemConfigItem("lxc.default_config", mode)!;
  return { mode, lxcpath, defaultLxcpath, runroot, defaultConfig, self: selfArgv() };
}

export const containerDir = (ctx: Context, name: string) => `${ctx.lxcpath}/${name}`;
export const configPath = (ctx: Context, name: string) => `${ctx.lxcpath}/${name}/config`;
export const runDir = (ctx: Context, name: string) => `${ctx.runroot}/${name}`;

export function isDefined(ctx: Context, name: string): boolean {
  return existsSync(configPath(ctx, name));
}

export function requireDefined(ctx: Context, name: string): void {
  if (!isDefined(ctx, name)) throw new NotFoundError(`${name} doesn't exist`, `no container \`${name}\` in ${ctx.lxcpath}`);
}
