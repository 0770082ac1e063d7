// lxt copy (lxc-copy): full copy, -s snapshot clone, -e ephemeral container.
import { copy } from "../../container/copy.ts";
import { parseStoreSize } from "../../storage/index.ts";
import { invocation, out } from "../common.ts";
import type { Cli } from "../main.ts";

export async function run(argv: string[], cli: Cli): Promise<number> {
  const inv = invocation(argv, cli, {
    usage: "-n NAME [-N NEWNAME] [-p NEWPATH] [-s] [-e [-D] [-m bind=SRC:DST[,ro]]...] [-B TYPE] [-L SIZE] [-K] [-M]",
    needsName: true,
    options: [
      { name: "newname", short: "N", kind: "value" },
      { name: "newpath", short: "p", kind: "value" },
      { name: "snapshot", short: "s", kind: "flag" },
      { name: "ephemeral", short: "e", kind: "flag" },
      { name: "keepdata", short: "D", kind: "flag" },
      { name: "mount", short: "m", kind: "list" },
      { name: "backingstorage", short: "B", kind: "value" },
      { name: "fssize", short: "L", kind: "value" },
      { name: "keepname", short: "K", kind: "flag" },
      { name: "keepmac", short: "M", kind: "flag" },
      { name: "daemon", short: "d", kind: "flag" },
      { name: "tmpfs", short: "t", kind: "flag" },
    ],
  });
  if (inv.help) return 0;
  const o = inv.opts;
  const made = await copy(inv.ctx, inv.name!, {
    newName: o.newname as string | undefined,
    newPath: o.newpath as string | undefined,
    snapshot: o.snapshot === true,
    ephemeral: o.ephemeral === true,
    keepData: o.keepdata === true,
    mounts: o.mount as string[] | undefined,
    bdev: o.backingstorage as string | undefined,
    fssize: o.fssize === undefined ? undefined : parseStoreSize(o.fssize as string),
    keepName: o.keepname === true,
    keepMac: o.keepmac === true,
  });
  if (o.ephemeral === true) out(`Created ${made} as clone of ${inv.name}\n`);
  return 0;
}
