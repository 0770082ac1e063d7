import { systemConfigItem, systemConfigKeys } from "../../config/system.ts";
import { invocation, out } from "../common.ts";
import type { Cli } from "../main.ts";

// Like lxc-config: -l lists the items, ITEM prints one.
export async function run(argv: string[], cli: Cli): Promise<number> {
  const inv = invocation(argv, cli, { usage: "-l | ITEM", options: [{ name: "list", short: "l", kind: "flag" }] });
  if (inv.help) return 0;
  const keys = systemConfigKeys();
  if (inv.opts.list || !inv.args[0]) {
    out(keys.map((k) => `${k}\n`).join(""));
    return 0;
  }
  const item = inv.args[0];
  const k = keys.find((k) => k === item) ?? keys.find((k) => k.startsWith(item));
  if (!k) {
    out(`Unknown configuration item: ${item}\n`);
    return 1;
  }
  const v = systemConfigItem(k, cli.mode);
  out(v === undefined || v === "" ? `${k} is not set.\n` : `${v}\n`);
  return 0;
}
