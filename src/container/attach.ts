// lxt attach / lxt console: resolve what the shim needs from the spec and
// the run dir, then hand over. Policy (environment, ids, capabilities, which
// namespaces) is decided here; the shim only executes it.
import { readFileSync } from "node:fs";
import { attach as shimAttach, consoleAttach as shimConsole, DEFAULT_PATH } from "../runtime/attach.ts";
import { readRuntimeState } from "../runtime/statefile.ts";
import type { ContainerSpec, Namespace } from "../spec/types.ts";
import { StateError } from "../util/errors.ts";
import { requireDefined, runDir, type Context } from "./context.ts";

export { DEFAULT_PATH };

export interface AttachRequest {
  command?: string[];
  /** subset to enter; default: all the container has */
  namespaces?: Namespace[];
  elevated: boolean;
  clearEnv: boolean;
  setVars: Array<[string, string]>;
  keepVars: string[];
  uid?: number;
  gid?: number;
  rcfile?: string;
}

/** The attached process's environment, as lxc-attach builds it. */
export function attachEnv(req: AttachRequest, configured: Array<{ name: string; value?: string }>, callerEnv: Record<string, string | undefined>): Record<string, string> {
  const env: Record<string, string> = {};
  if (req.clearEnv) {
    for (const k of req.keepVars) if (callerEnv[k] !== undefined) env[k] = callerEnv[k]!;
    env.PATH = DEFAULT_PATH;
  } else {
    for (const [k, v] of Object.entries(callerEnv)) if (v !== undefined) env[k] = v;
  }
  env.container = "lxc";
  for (const e of configured) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (callerEnv[e.name] !== undefined) env[e.name] = callerEnv[e.name]!;
  }
  for (const [k, v] of req.setVars) env[k] = v;
  return env;
}

/**
 * What attach needs from the spec, resolved once by start and kept in the run
 * dir (RUNDIR/attach.json), so attach reads no config: like lxc-attach, it
 * uses the configuration the container was started with.
 */
export interface AttachRecord {
  environment: Array<{ name: string; value?: string }>;
  capDrop: number[];
  noNewPrivs: boolean;
  cgroupJoinFiles: string[];
  /** personality(2) of the container (lxc.arch), applied to attached processes as lxc-attach does */
  personality?: number;
  /** its compiled seccomp filter (RUNDIR/seccomp.bpf), as lxc-attach applies it */
  seccompFile?: string;
}

export function attachRecord(spec: ContainerSpec, capDrop: number[], cgroupJoinFiles: string[], personality?: number, seccompFile?: string): AttachRecord {
  return { environment: spec.environment, capDrop, noNewPrivs: spec.noNewPrivs, cgroupJoinFiles, personality, seccompFile };
}

function runningInit(ctx: Context, name: string): number {
  const rt = readRuntimeState(runDir(ctx, name));
  if (rt?.monitorAlive && rt.initPid && rt.state !== "STOPPED") return rt.initPid;
  requireDefined(ctx, name);
  throw new StateError(`Failed to get init pid: ${name} is not running`, `start it first (lxt start -n ${name})`);
}

async function resolveRecord(ctx: Context, name: string, rcfile: string | undefined): Promise<AttachRecord> {
  const rundir = runDir(ctx, name);
  if (!rcfile) {
    try {
      return JSON.parse(readFileSync(`${rundir}/attach.json`, "utf8")) as AttachRecord;
    } catch {
      // started by an older lxt: resolve from the config below
    }
  }
  const { loadSpec, openCgroup } = await import("./state.ts");
  const { capsToDrop, personalityOf } = await import("../runtime/plan.ts");
  const spec = loadSpec(ctx, name, { rcfile });
  return attachRecord(spec, capsToDrop(spec.caps), openCgroup(rundir)?.joinFiles() ?? [], personalityOf(spec));
}

export async function attach(ctx: Context, name: string, req: AttachRequest): Promise<number> {
  const initPid = runningInit(ctx, name);
  const rec = await resolveRecord(ctx, name, req.rcfile);
  return shimAttach({
    initPid,
    namespaces: req.namespaces,
    cgroupJoinFiles: rec.cgroupJoinFiles,
    env: attachEnv(req, rec.environment, process.env),
    uid: req.uid ?? 0,
    gid: req.gid ?? 0,
    cwd: "/",
    capDrop: req.elevated ? [] : rec.capDrop,
    noNewPrivs: rec.noNewPrivs,
    personality: rec.personality,
    seccompFile: req.elevated ? undefined : rec.seccompFile,
    argv: req.command,
  });
}

export async function consoleAttach(ctx: Context, name: string, tty: number | undefined, escape: string): Promise<number> {
  runningInit(ctx, name);
  // like lxc-console: the first free tty unless -t names one (0 = /dev/console)
  return await shimConsole(runDir(ctx, name), tty ?? -1, escape);
}
