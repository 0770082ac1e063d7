// lxt attach / lxt console: resolve what the shim needs from the spec and
// the run dir, then hand over. Policy (environment, ids, capabilities, which
// namespaces) is decided here; the shim only executes it.
import { attach as shimAttach, consoleAttach as shimConsole } from "../runtime/shim.ts";
import type { Namespace } from "../spec/types.ts";
import { StateError } from "../util/errors.ts";
import { runDir, type Context } from "./context.ts";
import { loadSpec, openCgroup, requireDefined, status } from "./state.ts";

import { DEFAULT_PATH } from "../runtime/plan.ts";

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

function runningInit(ctx: Context, name: string): number {
  requireDefined(ctx, name);
  const st = status(ctx, name);
  if (st.state === "STOPPED" || !st.initPid)
    throw new StateError(`Failed to get init pid: ${name} is not running`, `start it first (lxt start -n ${name})`);
  return st.initPid;
}

export async function attach(ctx: Context, name: string, req: AttachRequest): Promise<number> {
  const initPid = runningInit(ctx, name);
  const spec = loadSpec(ctx, name, { rcfile: req.rcfile });
  const rundir = runDir(ctx, name);
  const cg = openCgroup(rundir);
  return shimAttach({
    initPid,
    namespaces: req.namespaces,
    cgroupJoinFiles: cg ? cg.joinFiles() : [],
    env: attachEnv(req, spec.environment, process.env),
    uid: req.uid ?? 0,
    gid: req.gid ?? 0,
    cwd: "/",
    caps: req.elevated ? undefined : spec.caps,
    noNewPrivs: spec.noNewPrivs,
    argv: req.command,
  });
}

export async function consoleAttach(ctx: Context, name: string, tty: number | undefined, escape: string): Promise<number> {
  runningInit(ctx, name);
  // like lxc-console: the first free tty unless -t names one (0 = /dev/console)
  return await shimConsole(runDir(ctx, name), tty ?? -1, escape);
}
