// lxt snapshot (lxc-snapshot): create [-c COMMENTFILE], -L [-C] list, -r SNAP [-N NEWNAME] restore, -d SNAP|ALL destroy.
import { listSnapshots, snapshotCreate, snapshotDestroy, snapshotRestore } from "../../container/copy.ts";
import { UsageError } from "../args.ts";
import { invocation, out } from "../common.ts";
import type { Cli } from "../main.ts";

export async function run(argv: string[], cli: Cli): Promise<number> {
  const inv = invocation(argv, cli, {
    usage: "-n NAME [-c COMMENTFILE] | -L [-C] | -r SNAP [-N NEWNAME] | -d SNAP|ALL",
    needsName: true,
    options: [
      { name: "comment", short: "c", kind: "value" },
      { name: "list", short: "L", kind: "flag" },
      { name: "showcomments", short: "C", kind: "flag" },
      { name: "restore", short: "r", kind: "value" },
      { name: "newname", short: "N", kind: "value" },
      { name: "destroy", short: "d", kind: "value" },
    ],
  });
  if (inv.help) return 0;
  const o = inv.opts;
  const name = inv.name!;
  if ([o.list, o.restore, o.destroy].filter((x) => x !== undefined).length > 1) throw new UsageError("give one of -L, -r, -d");
  if (o.list === true) {
    const snaps = listSnapshots(inv.ctx, name);
    if (!snaps.length) out("No snapshots\n");
    for (const s of snaps) {
      out(`${s.name} (${s.dir}) ${s.time}\n`);
      if (o.showcomments === true && s.comment) out(`${s.comment.replace(/\n*$/, "\n")}`);
    }
  } else if (o.restore !== undefined) await snapshotRestore(inv.ctx, name, o.restore as string, o.newname as string | undefined);
  else if (o.destroy !== undefined) snapshotDestroy(inv.ctx, name, o.destroy as string);
  else await snapshotCreate(inv.ctx, name, o.comment as string | undefined);
  return 0;
}
