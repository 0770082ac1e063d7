import { waitState } from "../../container/wait.ts";
import { STATES, type State } from "../../container/state.ts";
import { UsageError } from "../args.ts";
import { invocation } from "../common.ts";
import { err } from "../output.ts";
import type { Cli } from "../main.ts";

export async function run(argv: string[], cli: Cli): Promise<number> {
  const inv = invocation(argv, cli, {
    usage: "-n NAME -s 'STATE[|STATE]...' [-t SECONDS]",
    needsName: true,
    options: [
      { name: "state", short: "s", kind: "value" },
      { name: "timeout", short: "t", kind: "value" },
    ],
  });
  if (inv.help) return 0;
  const spec = inv.opts.state as string | undefined;
  if (!spec) throw new UsageError("missing state option to wait for, use -s STATE", `states: ${STATES.join(" ")}`);
  const states = spec.split("|").map((s) => s.trim().toUpperCase());
  const bad = states.find((s) => !STATES.includes(s as State));
  if (bad) throw new UsageError(`invalid state \`${bad}\``, `states: ${STATES.join(" ")}`);
  const t = inv.opts.timeout === undefined ? -1 : Number(inv.opts.timeout);
  if (!Number.isFinite(t)) throw new UsageError(`invalid timeout \`${inv.opts.timeout}\``);
  const ok = await waitState(inv.ctx, inv.name!, states as State[], t);
  if (!ok) {
    err(`${cli.tool}: ${inv.name}: timed out after ${t} s waiting for ${states.join("|")}\n`);
    return 1;
  }
  return 0;
}
