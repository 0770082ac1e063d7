import { runChecks } from "../../container/checkconfig.ts";
import { shimPath } from "../../runtime/statefile.ts";
import { invocation, out } from "../common.ts";
import { stdoutTerminal } from "../output.ts";
import type { Cli } from "../main.ts";

export async function run(argv: string[], cli: Cli): Promise<number> {
  const inv = invocation(argv, cli, { usage: "   (env CONFIG=/path/to/kernel/config to read that file)" });
  if (inv.help) return 0;
  const { checks, configSource } = runChecks(shimPath());
  const tty = stdoutTerminal().tty;
  const paint = (s: string, c: number) => (tty ? `\x1b[1;${c}m${s}\x1b[0m` : s);
  let s = `Kernel configuration: ${configSource ?? "not found (checked /proc/config.gz, /boot/config-*; results below come from the running system)"}\n`;
  let section = "";
  let missingRequired = 0;
  for (const c of checks) {
    if (c.section !== section) {
      section = c.section;
      s += `\n--- ${section} ---\n`;
    }
    const word = c.ok === undefined ? paint("unknown", 33) : c.ok ? paint("enabled", 32) : c.level === "required" ? paint("required", 31) : paint("missing", 33);
    if (c.ok === false && c.level === "required") missingRequired++;
    s += `${c.feature}: ${word}${c.detail && !c.ok ? ` (${c.detail})` : ""}\n`;
  }
  s += `\n${missingRequired ? `${missingRequired} required feature(s) missing: containers cannot run here` : "All required features are present."}\n`;
  out(s);
  return missingRequired ? 1 : 0;
}
