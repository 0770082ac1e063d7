// lxt net start|stop|status: the managed bridge (like LXC's lxc-net service).
import { bridgeState, DEFAULT_BRIDGE, DEFAULT_SUBNET, leases, startBridge, stopBridge } from "../../net/bridge.ts";
import { UsageError } from "../args.ts";
import { err, invocation, out } from "../common.ts";
import type { Cli } from "../main.ts";

export async function run(argv: string[], cli: Cli): Promise<number> {
  const inv = invocation(argv, cli, {
    usage: `start|stop|status [--bridge NAME] [--subnet ADDR/PREFIX] [--ipv6 ADDR/PREFIX] [--no-nat]   (default ${DEFAULT_BRIDGE}, ${DEFAULT_SUBNET})`,
    options: [
      { name: "bridge", kind: "value" },
      { name: "subnet", kind: "value" },
      { name: "ipv6", kind: "value" },
      { name: "no-nat", kind: "flag" },
    ],
  });
  if (inv.help) return 0;
  const [verb] = inv.args;
  const name = (inv.opts.bridge as string | undefined) ?? DEFAULT_BRIDGE;
  if (verb === "start") {
    const st = startBridge({ name, subnet: inv.opts.subnet as string | undefined, ipv6: inv.opts.ipv6 as string | undefined, nat: inv.opts["no-nat"] !== true });
    out(`${st.name} ${st.subnet}${st.ipv6 ? ` ${st.ipv6}` : ""} dnsmasq ${st.dnsmasqPid} NAT ${st.nat ? st.natTool : "off"}\n`);
  } else if (verb === "stop") {
    for (const w of stopBridge(name)) err(`${cli.tool}: ${w}\n`);
  } else if (verb === "status") {
    const st = bridgeState(name);
    if (!st) {
      out(`${name}: stopped\n`);
      return 3;
    }
    out(`${name}: running ${st.subnet}${st.ipv6 ? ` ${st.ipv6}` : ""}, dnsmasq ${st.dnsmasqPid}, NAT ${st.nat ? st.natTool : "off"}\n`);
    for (const l of leases(name)) out(`  ${l.ip}\t${l.mac}\t${l.hostname}\n`);
  } else throw new UsageError(verb ? `unknown action \`${verb}\`` : "missing action", "use start, stop or status");
  return 0;
}
