import { start } from "../../container/start.ts";
import { err, invocation } from "../common.ts";
import type { Cli } from "../main.ts";

export async function run(argv: string[], cli: Cli): Promise<number> {
  const inv = invocation(argv, cli, {
    usage: "-n NAME [-f CONFIG] [-s KEY=VALUE]... [-u UID] [-g GID] -- COMMAND [ARGS]",
    needsName: true,
    options: [
      { name: "rcfile", short: "f", kind: "value" },
      { name: "define", short: "s", kind: "list" },
      { name: "uid", short: "u", kind: "value" },
      { name: "gid", short: "g", kind: "value" },
      { name: "daemon", short: "d", kind: "flag" },
    ],
  });
  if (inv.help) return 0;
  const defines = [...((inv.opts.define as string[] | undefined) ?? [])];
  if (inv.opts.uid) defines.push(`lxc.init.uid=${inv.opts.uid}`);
  if (inv.opts.gid) defines.push(`lxc.init.gid=${inv.opts.gid}`);
  const res = await start(inv.ctx, inv.name!, {
    onWarning: (w) => err(`${cli.tool}: ${inv.name}: warning: ${w}\n`),
    rcfile: inv.opts.rcfile as string | undefined,
    defines,
    argv: inv.rest ?? (inv.args.length ? inv.args : undefined),
    mode: "execute",
  });
  return res.exitCode ?? 0;
}
