import { destroy } from "../../container/destroy.ts";
import { invocation } from "../common.ts";
import type { Cli } from "../main.ts";

export async function run(argv: string[], cli: Cli): Promise<number> {
  const inv = invocation(argv, cli, {
    usage: "-n NAME [-f] [-s]",
    needsName: true,
    options: [
      { name: "force", short: "f", kind: "flag" },
      { name: "snapshots", short: "s", kind: "flag" },
    ],
  });
  if (inv.help) return 0;
  await destroy(inv.ctx, inv.name!, { force: inv.opts.force === true, snapshots: inv.opts.snapshots === true });
  return 0;
}
