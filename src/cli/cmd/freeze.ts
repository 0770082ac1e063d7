import { runDir } from "../../container/context.ts";
import { NotRunningError } from "../../container/stop.ts";
import { openCgroup, requireDefined, status } from "../../container/state.ts";
import { LxtError } from "../../util/errors.ts";
import { invocation } from "../common.ts";
import type { Cli } from "../main.ts";

// lxt freeze and lxt unfreeze (which one: the command name).
export async function run(argv: string[], cli: Cli): Promise<number> {
  const thaw = cli.tool.endsWith("unfreeze");
  const inv = invocation(argv, cli, { usage: "-n NAME", needsName: true });
  if (inv.help) return 0;
  const name = inv.name!;
  requireDefined(inv.ctx, name);
  const st = status(inv.ctx, name);
  if (st.state === "STOPPED") throw new NotRunningError(`Failed to ${thaw ? "unfreeze" : "freeze"} ${name}: it is not running`);
  const cg = openCgroup(runDir(inv.ctx, name));
  if (!cg && process.getuid?.() !== 0) {
    const me = process.env.USER ?? String(process.getuid?.());
    throw new LxtError(`${name} has no cgroup (none is delegated to ${me}), so it cannot be ${thaw ? "thawed" : "frozen"}`, `as root: lxt delegate ${me}; then restart ${name}`);
  }
  if (!cg) throw new LxtError(`${name}: its cgroup record is missing`, `restart it (lxt stop -n ${name}; lxt start -n ${name})`);
  if (thaw) cg.thaw();
  else cg.freeze();
  return 0;
}
