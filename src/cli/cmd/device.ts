import { deviceAdd, deviceDel } from "../../container/device.ts";
import { UsageError } from "../args.ts";
import { invocation } from "../common.ts";
import type { Cli } from "../main.ts";

export async function run(argv: string[], cli: Cli): Promise<number> {
  const inv = invocation(argv, cli, { usage: "-n NAME add|del DEVICE [NAME-INSIDE]   (DEVICE: /dev/X, a host interface, or veth:BRIDGE for a new veth)", needsName: true });
  if (inv.help) return 0;
  const [verb, dev, target] = inv.args;
  if (verb !== "add" && verb !== "del") throw new UsageError(verb ? `unknown action \`${verb}\`` : "missing action", "use add or del");
  if (!dev) throw new UsageError("missing device", "e.g. lxt device -n NAME add /dev/fuse, or add eth1");
  if (verb === "add") await deviceAdd(inv.ctx, inv.name!, dev, target);
  else await deviceDel(inv.ctx, inv.name!, dev);
  return 0;
}
