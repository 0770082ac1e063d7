// A container's state, derived from what is true now: the monitor's state
// file (and whether that monitor is still alive), then the freezer.
import { existsSync, readFileSync } from "node:fs";
import { loadConfig } from "../config/load.ts";
import { specFromConfig } from "../spec/fromLxcConfig.ts";
import type { ContainerSpec } from "../spec/types.ts";
import { readRuntimeState, type RuntimeState } from "../runtime/statefile.ts";
import { cgroupDriver, type CgroupRecord, type ContainerCgroup } from "../cgroup/index.ts";
import { NotFoundError } from "../util/errors.ts";
import { configPath, requireDefined, runDir, type Context } from "./context.ts";

export type State = "STOPPED" | "STARTING" | "RUNNING" | "STOPPING" | "ABORTING" | "FREEZING" | "FROZEN" | "THAWED";
export const STATES: readonly State[] = ["STOPPED", "STARTING", "RUNNING", "STOPPING", "ABORTING", "FREEZING", "FROZEN", "THAWED"];

export interface Status {
  state: State;
  initPid?: number;
  monitorPid?: number;
  runtime: RuntimeState | null;
  /** the monitor died without cleaning up: the run dir is stale */
  stale: boolean;
}

export function loadSpec(ctx: Context, name: string, opts: { rcfile?: string; defines?: string[] } = {}): ContainerSpec {
  const path = opts.rcfile ?? configPath(ctx, name);
  if (!existsSync(path)) {
    throw new NotFoundError(
      opts.rcfile ? `config file \`${path}\` does not exist` : `${name} doesn't exist`,
      opts.rcfile ? undefined : `no ${path}; create the container first (lxt create -n ${name} -t busybox)`,
    );
  }
  const cfg = loadConfig(path, { defines: opts.defines });
  return specFromConfig(cfg, { name, lxcpath: ctx.lxcpath, configPath: path });
}

export { requireDefined };

export function openCgroup(rundir: string): ContainerCgroup | undefined {
  try {
    const rec = JSON.parse(readFileSync(`${rundir}/cgroup.json`, "utf8")) as CgroupRecord;
    return cgroupDriver().open(rec);
  } catch {
    return undefined;
  }
}

export function status(ctx: Context, name: string): Status {
  const rundir = runDir(ctx, name);
  const rt = readRuntimeState(rundir);
  if (!rt || rt.state === "STOPPED") return { state: "STOPPED", runtime: rt, stale: !!rt && !rt.monitorAlive };
  if (!rt.monitorAlive) return { state: "STOPPED", runtime: rt, stale: true };
  let state: State = rt.state;
  if (state === "RUNNING") {
    const cg = openCgroup(rundir);
    if (cg) {
      try {
        const f = cg.freezerState();
        if (f !== "THAWED") state = f;
      } catch {
        // no freezer on this host: RUNNING it is
      }
    }
  }
  return { state, initPid: rt.initPid, monitorPid: rt.monitorPid, runtime: rt, stale: false };
}
