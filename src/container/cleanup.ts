// Host-side cleanup after a container's init is gone. The monitor execs
// `lxt __cleanup` when the container exits; start/stop/destroy run it inline
// for a stale run (the monitor was killed before it could). Idempotent: every
// step tolerates having been done already.
import { existsSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { readRuntimeState } from "../runtime/statefile.ts";
import type { ContainerSpec } from "../spec/types.ts";
import { teardownNetwork } from "../net/nic.ts";
import { errorMessage } from "../util/errors.ts";
import { configLog, log } from "../util/log.ts";
import { type Context } from "./context.ts";
import { runHostHooks } from "./hooks.ts";
import { loadSpec, openCgroup } from "./state.ts";

export interface CleanupOptions {
  rundir: string;
  rcfile?: string;
  /** the monitor died without running cleanup */
  stale?: boolean;
  /** the spec, when the caller has it already (saves reading the config again) */
  spec?: ContainerSpec;
}

export interface CleanupResult {
  spec?: ContainerSpec;
  /** exit status of init as the monitor recorded it (wait status) */
  exitStatus?: number;
  warnings: string[];
}

/** The monitor passes the container's network namespace as fd 99 (a path by pid, so that nsenter can open it). */
function netnsHeld(): string | undefined {
  try {
    return readlinkSync("/proc/self/fd/99").startsWith("net:") ? `/proc/${process.pid}/fd/99` : undefined;
  } catch {
    return undefined;
  }
}

export async function cleanup(ctx: Context, name: string, o: CleanupOptions): Promise<CleanupResult> {
  const warnings: string[] = [];
  const rt = readRuntimeState(o.rundir);
  let spec: ContainerSpec | undefined = o.spec;
  if (!spec) {
    try {
      spec = loadSpec(ctx, name, { rcfile: o.rcfile ?? (existsSync(`${o.rundir}/rcfile`) ? readFileSync(`${o.rundir}/rcfile`, "utf8") : undefined) });
    } catch (e) {
      warnings.push(`cannot read the config for post-stop hooks: ${errorMessage(e)}`);
    }
  }

  // NICs: host NICs go back (from the namespace the monitor kept for us on fd 99, if it did), host-side devices go
  for (const w of teardownNetwork(o.rundir, netnsHeld())) warnings.push(w);

  // Every process still in the cgroup goes (a stale run, or shared pid ns), then the cgroup.
  const cg = openCgroup(o.rundir);
  if (cg) {
    try {
      cg.remove();
    } catch (e) {
      warnings.push(`remove cgroup: ${errorMessage(e)}`);
    }
  }

  if (spec && existsSync(o.rundir)) {
    try {
      runHostHooks(spec, "post-stop", { LXC_TARGET: "stop" });
    } catch (e) {
      warnings.push(errorMessage(e));
    }
  }
  rmSync(o.rundir, { recursive: true, force: true });

  if (spec?.ephemeral && existsSync(spec.dir) && !o.rcfile) {
    const { destroy } = await import("./destroy.ts");
    try {
      await destroy(ctx, name, { force: true, skipStateCheck: true });
    } catch (e) {
      warnings.push(`destroy ephemeral container: ${errorMessage(e)}`);
    }
  }
  if (spec) configLog(spec.log.file, spec.log.level);
  for (const w of warnings) log("WARN", "cleanup", w);
  log("INFO", "cleanup", `${name} cleaned up${rt?.exitStatus !== undefined ? ` (init wait status ${rt.exitStatus})` : ""}`);
  return { spec, exitStatus: rt?.exitStatus, warnings };
}
