// lxt destroy: refuse a running container unless forced; run destroy hooks;
// remove the container directory.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { destroyStore, readRootfsSpec } from "../storage/index.ts";
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
  if (existsSync(clones) && readFileSync(clones, "utf8").trim()) {
    const l = readFileSync(clones, "utf8").trim().split("\n");
    const names: string[] = [];
    for (let i = 0; i + 1 < l.length; i += 2) names.push(l[i] === ctx.lxcpath ? l[i + 1]! : `${l[i]}/${l[i + 1]}`);
    throw new StateError(`Destroying ${name} failed: ${name} has snapshot clones: ${names.join(", ")}`, "destroy those first (they use its rootfs as their lower layer)");
  }
  if (o.snapshots && existsSync(snaps))
    for (const s of readdirSync(snaps)) {
      const cfg = `${snaps}/${s}/config`;
      const rs = existsSync(cfg) ? readRootfsSpec(cfg) : undefined;
      if (rs) destroyStore(rs);
    }
  const spec = loadSpec(ctx, name);
  runHostHooks(spec, "destroy");
  dropDependency(dir);
  if ((process.getuid?.() ?? 0) === 0) {
    if (spec.rootfs.managed) destroyStore(spec.rootfs.spec);
  } else {
    // an ordinary user's store (a dir, or an overlay clone's upper, inside the container dir) and
    // snapshots belong to the container's ids: removed from a user namespace made of the user's
    // subordinate ids (not the config's maps, which may have been edited into something newuidmap refuses)
    const { asSubidRoot } = await import("./create.ts");
    asSubidRoot(["rm", "-rf", dir], `remove ${dir}`);
  }
  rmSync(dir, { recursive: true, force: true });
}

/** A snapshot clone leaves its base's lxc_snapshots list (LXC's dependency files). */
function dropDependency(dir: string): void {
  let base: string;
  try {
    base = readFileSync(`${dir}/lxc_rdepends`, "utf8").trim();
  } catch {
    return;
  }
  const [lxcpath, name] = base.split("\n");
  const me = dir.slice(dir.lastIndexOf("/") + 1);
  const mine = dir.slice(0, dir.lastIndexOf("/"));
  const file = `${lxcpath}/${name}/lxc_snapshots`;
  try {
    const lines = readFileSync(file, "utf8").trim().split("\n");
    const keep: string[] = [];
    for (let i = 0; i + 1 < lines.length; i += 2) if (!(lines[i] === mine && lines[i + 1] === me)) keep.push(lines[i]!, lines[i + 1]!);
    writeFileSync(file, keep.length ? `${keep.join("\n")}\n` : "");
  } catch {
    // the base is gone already
  }
}

function readdirNonEmpty(d: string): boolean {
  try {
    return readdirSync(d).length > 0;
  } catch {
    return false;
  }
}
