// lxt export -n NAME FILE [--snapshots]: a stopped container as one tar (see src/container/backup.ts).
import { exportContainer } from "../../container/backup.ts";
import { UsageError } from "../args.ts";
import { invocation } from "../common.ts";
import type { Cli } from "../main.ts";

export async function run(argv: string[], cli: Cli): Promise<number> {
  const inv = invocation(argv, cli, { usage: "-n NAME FILE [--snapshots]", needsName: true, options: [{ name: "snapshots", kind: "flag" }] });
  if (inv.help) return 0;
  const [file] = inv.args;
  if (!file) throw new UsageError("missing FILE", "e.g. lxt export -n web web.tar.gz");
  exportContainer(inv.ctx, inv.name!, file, { snapshots: inv.opts.snapshots === true });
  return 0;
}
