import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { updateConfigText } from "../../config/update.ts";
import { UsageError } from "../args.ts";
import { invocation, out } from "../common.ts";
import type { Cli } from "../main.ts";

// Like lxc-update-config -c FILE: rewrites legacy keys in place, keeps FILE.backup.
export async function run(argv: string[], cli: Cli): Promise<number> {
  const inv = invocation(argv, cli, { usage: "-c CONFIG", options: [{ name: "config", short: "c", kind: "value" }] });
  if (inv.help) return 0;
  const file = (inv.opts.config as string | undefined) ?? inv.args[0];
  if (!file) throw new UsageError("missing config file", "usage: lxt update-config -c CONFIG");
  const text = readFileSync(file, "utf8");
  const res = updateConfigText(text);
  copyFileSync(file, `${file}.backup`);
  if (res.changed) writeFileSync(file, res.text);
  if (!inv.opts.quiet) out(`${file}: ${res.changed} legacy key${res.changed === 1 ? "" : "s"} rewritten; original kept in ${file}.backup\n`);
  return 0;
}
