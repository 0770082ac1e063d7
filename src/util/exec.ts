// The one place lxt runs host programs (ip, mount helpers, hooks, templates).
// Bun.spawnSync keeps node:child_process out of the start path (DESIGN.md).
import { ExecError } from "./errors.ts";

export interface ExecOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  stdin?: string | Uint8Array;
  /** inherit stdout/stderr instead of capturing (templates, interactive tools) */
  inherit?: boolean;
  /** do not throw on non-zero exit */
  allowFail?: boolean;
}

export interface ExecResult {
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

export function run(argv: string[], opts: ExecOptions = {}): ExecResult {
  const p = Bun.spawnSync(argv, {
    env: opts.env as Record<string, string> | undefined,
    cwd: opts.cwd,
    stdin: opts.stdin === undefined ? "ignore" : new Blob([opts.stdin]),
    stdout: opts.inherit ? "inherit" : "pipe",
    stderr: opts.inherit ? "inherit" : "pipe",
  });
  const res: ExecResult = {
    status: p.exitCode,
    signal: p.signalCode == null ? null : String(p.signalCode),
    stdout: p.stdout ? p.stdout.toString() : "",
    stderr: p.stderr ? p.stderr.toString() : "",
  };
  if (!opts.allowFail && res.status !== 0) throw new ExecError(argv, res.status, res.stderr);
  return res;
}

/** Runs a shell command line (hooks use /bin/sh -c, as LXC does). */
export function sh(cmdline: string, opts: ExecOptions = {}): ExecResult {
  return run(["/bin/sh", "-c", cmdline], opts);
}
