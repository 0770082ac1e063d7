import { describe, stats } from "../../container/list.ts";
import { usage } from "../../storage/index.ts";
import { requireDefined } from "../../container/state.ts";
import { loadConfig } from "../../config/load.ts";
import { configPath } from "../../container/context.ts";
import { err, invocation, out } from "../common.ts";
import { field, humanSize } from "../format.ts";
import type { Cli } from "../main.ts";

export async function run(argv: string[], cli: Cli): Promise<number> {
  const inv = invocation(argv, cli, {
    usage: "-n NAME [-s] [-p] [-i] [-S] [-H] [-c KEY]...",
    needsName: true,
    options: [
      { name: "state", short: "s", kind: "flag" },
      { name: "pid", short: "p", kind: "flag" },
      { name: "ips", short: "i", kind: "flag" },
      { name: "stats", short: "S", kind: "flag" },
      { name: "no-humanize", short: "H", kind: "flag" },
      { name: "config", short: "c", kind: "list" },
    ],
  });
  if (inv.help) return 0;
  const name = inv.name!;
  requireDefined(inv.ctx, name);
  const o = inv.opts;
  const raw = o["no-humanize"] === true;

  const keys = (o.config as string[] | undefined) ?? [];
  if (keys.length) {
    const cfg = loadConfig((o.rcfile as string | undefined) ?? configPath(inv.ctx, name));
    for (const k of keys) {
      let v: string | undefined;
      try {
        v = cfg.itemText(k);
      } catch {
        v = undefined;
      }
      if (v === undefined) err(`${k} invalid\n`);
      else out(raw && keys.length === 1 ? `${v}\n` : `${k} = ${v}\n`);
    }
    return 0;
  }

  const sel = { s: o.state === true, p: o.pid === true, i: o.ips === true, S: o.stats === true };
  const any = sel.s || sel.p || sel.i || sel.S;
  const count = [sel.s, sel.p, sel.i, sel.S].filter(Boolean).length;
  const bare = raw && count === 1 && !sel.S;
  const r = describe(inv.ctx, name, { net: !any || sel.i });
  const running = r.status.state !== "STOPPED" && r.status.initPid !== undefined;
  let s = "";
  if (!any) s += field("Name:", name);
  if (!any || sel.s) s += bare ? `${r.status.state}\n` : field("State:", r.status.state);
  if (running) {
    if (!any || sel.p) s += bare ? `${r.status.initPid}\n` : field("PID:", r.status.initPid!);
    if (!any || sel.i) for (const ip of [...(r.net?.ipv4 ?? []), ...(r.net?.ipv6 ?? [])]) s += bare ? `${ip}\n` : field("IP:", ip);
    if (!any || sel.S) {
      const st = stats(inv.ctx, name);
      const size = (n: number | undefined) => (raw ? String(n ?? 0) : humanSize(n ?? 0));
      if (st?.cpuUsageNs !== undefined) s += field("CPU use:", raw ? st.cpuUsageNs : `${(st.cpuUsageNs / 1e9).toFixed(2)} seconds`);
      if (st?.blkioBytes !== undefined) s += field("BlkIO use:", size(st.blkioBytes.read + st.blkioBytes.write));
      if (st?.memoryBytes !== undefined) s += field("Memory use:", size(st.memoryBytes));
      if (st?.kmemBytes !== undefined) s += field("KMem use:", size(st.kmemBytes));
      if (st?.swapBytes !== undefined) s += field("Swap use:", size(st.swapBytes));
      if (r.spec) {
        const du = usage(r.spec);
        if (du) s += field("Disk use:", `${size(du.used)}${du.limit !== undefined ? ` of ${size(du.limit)}` : ""}`);
      }
      for (const l of r.net?.links ?? []) {
        if (l.name === "lo") continue;
        s += field("Link:", l.name);
        s += field(" TX bytes:", size(l.txBytes));
        s += field(" RX bytes:", size(l.rxBytes));
        s += field(" Total bytes:", size(l.txBytes + l.rxBytes));
      }
    }
  }
  out(s);
  return 0;
}
