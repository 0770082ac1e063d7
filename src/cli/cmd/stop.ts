import { stop } from "../../container/stop.ts";
import { UsageError } from "../args.ts";
import { invocation } from "../common.ts";
import type { Cli } from "../main.ts";

export async function run(argv: string[], cli: Cli): Promise<number> {
  const inv = invocation(argv, cli, {
    usage: "-n NAME [-t SECONDS] [-k] [-r] [-W] [--nokill] [--nolock]",
    needsName: true,
    options: [
      { name: "timeout", short: "t", kind: "value" },
      { name: "kill", short: "k", kind: "flag" },
      { name: "reboot", short: "r", kind: "flag" },
      { name: "nowait", short: "W", kind: "flag" },
      { name: "nokill", kind: "flag" },
      { name: "nolock", kind: "flag" },
    ],
  });
  if (inv.help) return 0;
  const o = inv.opts;
  if (o.kill && o.timeout !== undefined) throw new UsageError("-k doesn't allow timeouts");
  if (o.kill && o.reboot) throw new UsageError("-k can't be used with -r");
  if (o.kill && o.nokill) throw new UsageError("-k can't be used with --nokill");
  if (o.nolock && !o.kill) throw new UsageError("--nolock may only be used with -k");
  let timeout: number | undefined;
  if (o.timeout !== undefined) {
    timeout = Number(o.timeout);
    if (!Number.isInteger(timeout) || timeout < -1) throw new UsageError(`invalid timeout \`${o.timeout}\`: give whole seconds, or -1 to wait forever`);
  }
  if (o.nowait) timeout = 0;
  await stop(inv.ctx, inv.name!, { timeout, kill: o.kill === true, reboot: o.reboot === true, nokill: o.nokill === true });
  return 0;
}
