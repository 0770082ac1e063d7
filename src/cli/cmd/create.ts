import { create } from "../../container/create.ts";
import { parseStoreSize } from "../../storage/index.ts";
import { invocation } from "../common.ts";
import type { Cli } from "../main.ts";

export async function run(argv: string[], cli: Cli): Promise<number> {
  const inv = invocation(argv, cli, {
    usage: "-n NAME -t TEMPLATE [-f CONFIG] [-B dir|loop|btrfs|lvm] [--fssize SIZE] [--fstype FS] [--vgname VG] [--lvname LV] [--thinpool[=POOL]] [-- TEMPLATE-ARGS]",
    needsName: true,
    options: [
      { name: "template", short: "t", kind: "value" },
      { name: "config", short: "f", kind: "value" },
      { name: "bdev", short: "B", kind: "value" },
      { name: "dir", kind: "value" },
      { name: "fstype", kind: "value" },
      { name: "fssize", kind: "value" },
      { name: "vgname", kind: "value" },
      { name: "lvname", kind: "value" },
      { name: "thinpool", kind: "flag", optionalValue: true },
    ],
  });
  if (inv.help) return 0;
  await create(inv.ctx, inv.name!, {
    template: inv.opts.template as string | undefined,
    config: inv.opts.config as string | undefined,
    bdev: inv.opts.bdev as string | undefined,
    store: {
      fssize: inv.opts.fssize === undefined ? undefined : parseStoreSize(inv.opts.fssize as string),
      fstype: inv.opts.fstype as string | undefined,
      vgname: inv.opts.vgname as string | undefined,
      lvname: inv.opts.lvname as string | undefined,
      // --thinpool alone: LXC's default pool name
      thinpool: inv.opts.thinpool === undefined ? undefined : inv.opts.thinpool === true ? "lxc" : (inv.opts.thinpool as string),
    },
    templateArgs: inv.rest ?? inv.args,
  });
  return 0;
}
