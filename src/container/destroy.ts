// lxt destroy: refuse a running container unless forced; run destroy hooks;
// remove the container directory.
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { LxtError, StateError } from "../util/errors.ts";
import { containerDir, runDir, type Context } from "./context.ts";
import { runHostHooks } from "./hooks.ts";
import { loadSpec, requireDefined, status } from "./state.ts";

export async function destroy(ctx: Context, name: string, o: { force?: boolean; snapshots?: boolean; skipStateCheck?: boolean } = {}): Promise<void> {
  if (!existsSync(containerDir(ctx, name))) throw new LxtError("Container is not defined", `no container \`${name}\` in ${ctx.lxcpath}`);
  requireDefined(ctx, name);
  if (!o.skipStateCheck) {
    const st = status(ctx, name);
    if (st.stale) {
      const { cleanup } = await import("./cleanup.ts");
      await cleanup(ctx, name, { rundir: runDir(ctx, name), stale: true });
    } else if (st.state !== "STOPPED") {
      if (!o.force) throw new StateError(`${name} is running`, `stop it first (lxt stop -n ${name}) or pass -f to stop and destroy it`);
      const { stop } = await import("./stop.ts");
      await stop(ctx, name, { kill: true });
    }
  }
  const dir = containerDir(ctx, name);
  const snaps = `${dir}/snaps`;
  if (existsSync(snaps) && !o.snapshots && readdirNonEmpty(snaps))
    throw new StateError(`Destroying ${name} failed: ${name} has snapshots`, "pass -s to destroy it with its snapshots");
  const clones = `${dir}/lxc_snapshots`;
  if (existsSync(clones) && readFileSync(clones, "utf8").trim())
    throw new StateError(`Destroying ${name} failed: ${name} has clones`, `destroy the clones listed in ${clones} first`);
  const spec = loadSpec(ctx, name);
  runHostHooks(spec, "destroy");
  rmSync(dir, { recursive: true, force: true });
}

function readdirNonEmpty(d: string): boolean {
  try {
    return readdirSync(d).length > 0;
  } catch {
    return false;
  }
}
