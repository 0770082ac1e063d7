import { containerNames, describe } from "../../container/list.ts";
import { start } from "../../container/start.ts";
import { stop } from "../../container/stop.ts";
import { errorMessage } from "../../util/errors.ts";
import { err, invocation, out } from "../common.ts";
import type { Cli } from "../main.ts";

// Like lxc-autostart: selects containers with lxc.start.auto = 1 (by default
// those in no group; -g picks groups, "" in a -g list meaning the no-group
// set; -a all), orders them by lxc.start.order, waits lxc.start.delay after each.
export async function run(argv: string[], cli: Cli): Promise<number> {
  const inv = invocation(argv, cli, {
    usage: "[-r|-s|-k] [-L] [-a] [-A] [-g GROUP[,GROUP]]... [-t SECONDS]",
    options: [
      { name: "reboot", short: "r", kind: "flag" },
      { name: "shutdown", short: "s", kind: "flag" },
      { name: "kill", short: "k", kind: "flag" },
      { name: "list", short: "L", kind: "flag" },
      { name: "all", short: "a", kind: "flag" },
      { name: "ignore-auto", short: "A", kind: "flag" },
      { name: "groups", short: "g", kind: "list" },
      { name: "timeout", short: "t", kind: "value" },
    ],
  });
  if (inv.help) return 0;
  const o = inv.opts;
  const groups = o.groups ? (o.groups as string[]).flatMap((g) => g.split(",")) : [""];
  const rows = containerNames(inv.ctx)
    .map((n) => describe(inv.ctx, n))
    .filter((r) => r.spec && (o["ignore-auto"] || r.spec.start.auto))
    .filter((r) => o.all || (r.spec!.groups.length === 0 ? groups.includes("") : r.spec!.groups.some((g) => groups.includes(g))))
    .sort((a, b) => a.spec!.start.order - b.spec!.start.order || a.name.localeCompare(b.name));
  const stopping = o.shutdown || o.kill || o.reboot;
  if (stopping) rows.reverse();
  let failed = 0;
  for (const r of rows) {
    if (o.list) {
      out(`${r.name} ${stopping ? (o.timeout ?? 60) : r.spec!.start.delay}\n`);
      continue;
    }
    try {
      if (stopping) {
        if (r.status.state === "STOPPED") continue;
        await stop(inv.ctx, r.name, { kill: o.kill === true, reboot: o.reboot === true, timeout: o.timeout ? Number(o.timeout) : undefined });
      } else {
        if (r.status.state !== "STOPPED") continue;
        await start(inv.ctx, r.name, { mode: "daemon" });
        if (r.spec!.start.delay > 0) await Bun.sleep(r.spec!.start.delay * 1000);
      }
    } catch (e) {
      failed++;
      err(`${cli.tool}: ${r.name}: ${errorMessage(e)}\n`);
    }
  }
  return failed ? 1 : 0;
}
