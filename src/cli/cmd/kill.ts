import { parseSignalValue } from "../../config/keys.ts";
import { killContainer } from "../../container/stop.ts";
import { UsageError } from "../args.ts";
import { invocation } from "../common.ts";
import type { Cli } from "../main.ts";

/** Like kill(1): a number, or a name with or without SIG (LXC's config parser wants the SIG). */
export function parseSignal(s: string): number {
  const n = parseSignalValue(/^\d+$/.test(s) || /^sig/i.test(s) ? s : `SIG${s}`);
  if (n === undefined) throw new UsageError(`unknown signal \`${s}\``, "give a number or a name like TERM, SIGKILL, SIGRTMIN+3");
  return n;
}

export async function run(argv: string[], cli: Cli): Promise<number> {
  const inv = invocation(argv, cli, {
    usage: "-n NAME [SIGNAL]   (default SIGKILL; names or numbers)",
    needsName: true,
    options: [{ name: "signal", short: "s", kind: "value" }],
  });
  if (inv.help) return 0;
  const sig = parseSignal((inv.opts.signal as string | undefined) ?? inv.args[0] ?? inv.rest?.[0] ?? "SIGKILL");
  await killContainer(inv.ctx, inv.name!, sig);
  return 0;
}
