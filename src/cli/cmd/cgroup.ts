import { runDir } from "../../container/context.ts";
import { openCgroup, requireDefined, status } from "../../container/state.ts";
import { LxtError } from "../../util/errors.ts";
import { UsageError } from "../args.ts";
import { invocation, out } from "../common.ts";
import type { Cli } from "../main.ts";

export async function run(argv: string[], cli: Cli): Promise<number> {
  const inv = invocation(argv, cli, { usage: "-n NAME STATE-OBJECT [VALUE]", needsName: true });
  if (inv.help) return 0;
  const name = inv.name!;
  const [key, value] = inv.args;
  if (!key) throw new UsageError("missing state object", "e.g. lxt cgroup -n NAME memory.limit_in_bytes");
  requireDefined(inv.ctx, name);
  if (status(inv.ctx, name).state === "STOPPED") throw new LxtError(`'${inv.ctx.lxcpath}:${name}' is not running`);
  const cg = openCgroup(runDir(inv.ctx, name));
  if (!cg) throw new LxtError(`${name}: its cgroup record is missing`);
  if (value === undefined) {
    let v: string;
    try {
      v = cg.get(key);
    } catch (e) {
      throw new LxtError(`Failed to retrieve value of '${key}' for '${inv.ctx.lxcpath}:${name}'`, e instanceof LxtError ? e.message : undefined);
    }
    out(v.endsWith("\n") ? v : `${v}\n`);
  } else cg.set(key, value);
  return 0;
}
