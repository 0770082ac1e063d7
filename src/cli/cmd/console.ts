import { consoleAttach } from "../../container/attach.ts";
import { UsageError } from "../args.ts";
import { err, invocation } from "../common.ts";
import type { Cli } from "../main.ts";

export async function run(argv: string[], cli: Cli): Promise<number> {
  const inv = invocation(argv, cli, {
    usage: "-n NAME [-t TTYNUM] [-e ESCAPE]   (Ctrl+a q leaves)",
    needsName: true,
    options: [
      { name: "tty", short: "t", kind: "value" },
      { name: "escape", short: "e", kind: "value" },
    ],
  });
  if (inv.help) return 0;
  const tty = inv.opts.tty === undefined ? undefined : Number(inv.opts.tty);
  if (tty !== undefined && (!Number.isInteger(tty) || tty < 0)) throw new UsageError(`invalid tty number \`${inv.opts.tty}\``);
  const esc = (inv.opts.escape as string | undefined) ?? "a";
  // LXC takes the escape as a letter (a = Ctrl+a) or ^X.
  const letter = esc.startsWith("^") ? esc.slice(1) : esc;
  if (!/^[a-zA-Z]$/.test(letter)) throw new UsageError(`invalid escape character \`${esc}\``, "give a letter, e.g. -e b for Ctrl+b");
  const n = await consoleAttach(inv.ctx, inv.name!, tty, letter.toLowerCase());
  err(`\n`);
  return n;
}
