import { constants } from "node:os";
import { killContainer } from "../../container/stop.ts";
import { UsageError } from "../args.ts";
import { invocation } from "../common.ts";
import type { Cli } from "../main.ts";

export function parseSignal(s: string): number {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n >= 1 && n <= 64) return n;
  }
  const up = s.toUpperCase();
  const name = up.startsWith("SIG") ? up : `SIG${up}`;
  const m = /^SIGRT(MIN|MAX)([+-]\d+)?$/.exec(name);
  if (m) return (m[1] === "MIN" ? 34 : 64) + Number(m[2] ?? 0);
  const n = (constants.signals as Record<string, number>)[name];
  if (n) return n;
  throw new UsageError(`unknown signal \`${s}\``, "give a number or a name like TERM, SIGKILL, SIGRTMIN+3");
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
