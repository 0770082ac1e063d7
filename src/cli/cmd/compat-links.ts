import { existsSync, lstatSync, mkdirSync, readlinkSync, symlinkSync, unlinkSync } from "node:fs";
import { UsageError } from "../args.ts";
import { invocation, out } from "../common.ts";
import type { Cli } from "../main.ts";

export const LXC_TOOLS = [
  "create", "destroy", "start", "stop", "execute", "attach", "console", "ls", "info", "wait", "monitor",
  "autostart", "freeze", "unfreeze", "cgroup", "checkconfig", "config", "update-config",
];

// Makes lxc-TOOL -> lxt links in DIR; works for any user who can write DIR.
export async function run(argv: string[], cli: Cli): Promise<number> {
  const inv = invocation(argv, cli, { usage: "DIR [--force]   (makes lxc-* links to this lxt in DIR)", options: [{ name: "force", kind: "flag" }] });
  if (inv.help) return 0;
  const dir = inv.args[0];
  if (!dir) throw new UsageError("missing directory", "e.g. lxt compat-links ~/bin");
  mkdirSync(dir, { recursive: true });
  const target = process.execPath;
  for (const t of LXC_TOOLS) {
    const link = `${dir}/lxc-${t}`;
    if (existsSync(link) || isLink(link)) {
      if (isLink(link) && readlinkSync(link) === target) continue;
      if (!inv.opts.force) throw new UsageError(`${link} exists`, "pass --force to replace it");
      unlinkSync(link);
    }
    symlinkSync(target, link);
  }
  out(`linked ${LXC_TOOLS.length} lxc-* tools in ${dir} to ${target}\n`);
  return 0;
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
