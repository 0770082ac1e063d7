// The host side of a start: everything before and around the shim. The
// sequence (docs/ARCHITECTURE.md): load the spec, clear a stale run, check
// the rootfs, make the run dir, create the cgroup, run pre-start hooks, hand
// the resolved plan to the shim, which daemonizes as the monitor. Every step
// registers its undo: a failed start leaves nothing behind.
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { cgroupDriver } from "../cgroup/index.ts";
import { startContainer as shimStart } from "../runtime/shim.ts";
import type { ContainerSpec } from "../spec/types.ts";
import { LxtError, NotSupportedError, StateError } from "../util/errors.ts";
import { Revert } from "../util/revert.ts";
import { cleanup } from "./cleanup.ts";
import { isDefined, runDir, type Context } from "./context.ts";
import { hookEnv, runHostHooks } from "./hooks.ts";
import { loadSpec, status } from "./state.ts";

export interface StartRequest {
  rcfile?: string;
  defines?: string[];
  /** replaces lxc.init.cmd (start -- CMD, execute -- CMD) */
  argv?: string[];
  mode: "daemon" | "foreground" | "execute";
}

export class AlreadyRunningError extends StateError {
  override name = "AlreadyRunningError";
}

function checkRootfs(spec: ContainerSpec): void {
  if (spec.rootfs.type !== "dir")
    throw new NotSupportedError(
      `start \`${spec.name}\`: backing store \`${spec.rootfs.type}\` (lxc.rootfs.path = ${spec.rootfs.spec}) is not available in this lxt yet`,
      "use a dir rootfs",
    );
  if (!existsSync(spec.rootfs.path))
    throw new LxtError(
      `start \`${spec.name}\`: rootfs \`${spec.rootfs.path}\` does not exist`,
      `create the container with a template (lxt create -n ${spec.name} -t busybox), or fix lxc.rootfs.path in ${spec.configPath}`,
    );
}

/** Starts a container. daemon: returns once RUNNING; foreground/execute: returns the exit status. */
export async function start(ctx: Context, name: string, req: StartRequest): Promise<{ exitCode?: number; initPid: number }> {
  if (!req.rcfile && !isDefined(ctx, name))
    throw new LxtError("No container config specified", `no container \`${name}\` in ${ctx.lxcpath}; create it first or pass --rcfile FILE`);
  const spec = loadSpec(ctx, name, { rcfile: req.rcfile, defines: req.defines });
  const rundir = runDir(ctx, name);

  const st = status(ctx, name);
  if (st.stale) await cleanup(ctx, name, { rundir, rcfile: req.rcfile, stale: true });
  else if (st.state !== "STOPPED") {
    const e = new AlreadyRunningError(
      req.mode === "execute" ? `Container "${name}" appears to be already running` : "Container is already running",
      req.mode === "execute" ? `use lxt attach -n ${name} -- CMD to run a command in it` : undefined,
    );
    // lxc-start exits 0 for an already running container; lxc-execute 1.
    e.exitCode = req.mode === "execute" ? 1 : 0;
    throw e;
  }
  checkRootfs(spec);
  if (req.mode === "execute" && !(req.argv?.length || spec.executeCmd?.length))
    throw new LxtError("execute: no command given", "pass it after --, or set lxc.execute.cmd");

  const r = new Revert();
  try {
    mkdirSync(rundir, { recursive: true, mode: 0o700 });
    r.add(() => rmSync(rundir, { recursive: true, force: true }));

    const cg = cgroupDriver().create({ name, spec: spec.cgroup });
    r.add(() => cg.remove());
    writeFileSync(`${rundir}/cgroup.json`, JSON.stringify(cg.record()));
    if (req.rcfile) writeFileSync(`${rundir}/rcfile`, req.rcfile);

    runHostHooks(spec, "pre-start");

    const argv = req.argv?.length ? req.argv : req.mode === "execute" ? spec.executeCmd : undefined;
    const res = await shimStart({
      spec,
      rundir,
      cgroupJoinFiles: cg.joinFiles(),
      mode: req.mode,
      argv,
      hookEnv: hookEnv(spec),
      cleanupArgv: [...ctx.self, "__cleanup", "-P", ctx.lxcpath, "-n", name, "--rundir", rundir, ...(req.rcfile ? ["--rcfile", req.rcfile] : [])],
      logFile: spec.log.file,
      logLevel: spec.log.level,
    });
    r.success();
    if (req.mode !== "daemon") await cleanup(ctx, name, { rundir, rcfile: req.rcfile });
    return { exitCode: res.exitCode, initPid: res.initPid };
  } finally {
    await r.fail();
  }
}
