// lxt import FILE [-n NAME] [-B TYPE] [--fssize SIZE]: a container from lxt export, onto any store.
import { importContainer } from "../../container/backup.ts";
import { parseStoreSize } from "../../storage/index.ts";
import { UsageError } from "../args.ts";
import { invocation, out } from "../common.ts";
import type { Cli } from "../main.ts";

export async function run(argv: string[], cli: Cli): Promise<number> {
  const inv = invocation(argv, cli, {
    usage: "FILE [-n NAME] [-B dir|loop|btrfs|lvm] [--fssize SIZE] [--vgname VG]",
    options: [
      { name: "bdev", short: "B", kind: "value" },
      { name: "fssize", kind: "value" },
      { name: "vgname", kind: "value" },
    ],
  });
  if (inv.help) return 0;
  const [file] = inv.args;
  if (!file) throw new UsageError("missing FILE", "e.g. lxt import web.tar.gz -n web2");
  const name = await importContainer(inv.ctx, file, {
    name: inv.name,
    bdev: inv.opts.bdev as string | undefined,
    store: { fssize: inv.opts.fssize === undefined ? undefined : parseStoreSize(inv.opts.fssize as string), vgname: inv.opts.vgname as string | undefined },
  });
  out(`imported ${name}\n`);
  return 0;
}
