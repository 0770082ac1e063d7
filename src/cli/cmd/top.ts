// lxt top (like lxc-top): every running container of the lxcpath with its
// CPU, block I/O and memory use from its cgroup, refreshed in place every
// -d seconds, sorted by -s (n name, c cpu, b blkio, m memory, k kmem), -r
// reversed. --batch prints once without escape codes; --json one document.
// q or Ctrl-C leaves.
import { containerNames } from "../../container/list.ts";
import { runDir } from "../../container/context.ts";
import { openCgroup, status } from "../../container/state.ts";
import type { CgroupStats } from "../../cgroup/index.ts";
import { UsageError } from "../args.ts";
import { invocation, out } from "../common.ts";
import { humanSize } from "../format.ts";
import type { Cli } from "../main.ts";

interface Row {
  name: string;
  stats: CgroupStats;
}

const SORT: Record<string, (r: Row) => number | string> = {
  n: (r) => r.name,
  c: (r) => r.stats.cpuUsageNs ?? 0,
  b: (r) => (r.stats.blkioBytes?.read ?? 0) + (r.stats.blkioBytes?.write ?? 0),
  m: (r) => r.stats.memoryBytes ?? 0,
  k: (r) => r.stats.kmemBytes ?? 0,
};

function collect(inv: ReturnType<typeof invocation>, sort: string, reverse: boolean): Row[] {
  const rows: Row[] = [];
  for (const name of containerNames(inv.ctx)) {
    const st = status(inv.ctx, name);
    if (st.state === "STOPPED") continue;
    const cg = openCgroup(runDir(inv.ctx, name));
    if (!cg) continue;
    try {
      rows.push({ name, stats: cg.stats() });
    } catch {
      // stopped while we looked
    }
  }
  const key = SORT[sort]!;
  rows.sort((a, b) => {
    const x = key(a);
    const y = key(b);
    const c = typeof x === "string" ? x.localeCompare(y as string) : (y as number) - x; // numbers: biggest first
    return reverse ? -c : c;
  });
  return rows;
}

function table(rows: Row[]): string {
  const sec = (ns?: number) => (ns === undefined ? "-" : (ns / 1e9).toFixed(2));
  const size = (n?: number) => (n === undefined ? "-" : humanSize(n));
  const lines = [
    ["Container", "CPU", "CPU", "CPU", "BlkIO", "Mem", "KMem"],
    ["Name", "Used (s)", "Sys (s)", "User (s)", "Total", "Used", "Used"],
    ...rows.map((r) => [r.name, sec(r.stats.cpuUsageNs), sec(r.stats.cpuSystemNs), sec(r.stats.cpuUserNs), size(r.stats.blkioBytes ? r.stats.blkioBytes.read + r.stats.blkioBytes.write : undefined), size(r.stats.memoryBytes), size(r.stats.kmemBytes)]),
  ];
  const total = rows.reduce((a, r) => a + (r.stats.memoryBytes ?? 0), 0);
  if (rows.length > 1) lines.push([`TOTAL ${rows.length}`, sec(rows.reduce((a, r) => a + (r.stats.cpuUsageNs ?? 0), 0)), "", "", "", size(total), ""]);
  const w = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  return lines.map((l) => l.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join("  ")).join("\n") + "\n";
}

export async function run(argv: string[], cli: Cli): Promise<number> {
  const inv = invocation(argv, cli, {
    usage: "[-d DELAY] [-s n|c|b|m|k] [-r] [--batch] [--json]",
    options: [
      { name: "delay", short: "d", kind: "value" },
      { name: "sort", short: "s", kind: "value" },
      { name: "reverse", short: "r", kind: "flag" },
      { name: "batch", short: "b", kind: "flag" },
      { name: "json", kind: "flag" },
    ],
  });
  if (inv.help) return 0;
  const sort = (inv.opts.sort as string | undefined) ?? "n";
  if (!SORT[sort]) throw new UsageError(`invalid sort key \`${sort}\``, "use n (name), c (cpu), b (blkio), m (memory) or k (kmem)");
  const delay = Number(inv.opts.delay ?? 3);
  if (!Number.isFinite(delay) || delay <= 0) throw new UsageError(`invalid delay \`${inv.opts.delay}\``, "seconds, e.g. -d 1");
  const reverse = inv.opts.reverse === true;
  if (inv.opts.json === true) {
    out(`${JSON.stringify(collect(inv, sort, reverse).map((r) => ({ name: r.name, ...r.stats })), null, 2)}\n`);
    return 0;
  }
  if (inv.opts.batch === true) {
    out(table(collect(inv, sort, reverse)));
    return 0;
  }
  // interactive: redraw in place until q or Ctrl-C
  const stdin = process.stdin;
  let done = false;
  if (stdin.isTTY) {
    stdin.setRawMode(true);
    stdin.on("data", (b: Buffer) => {
      if (b.includes(0x71) || b.includes(0x03)) done = true;
    });
  }
  process.on("SIGINT", () => (done = true));
  try {
    while (!done) {
      out(`\x1b[H\x1b[2J${table(collect(inv, sort, reverse))}\n(q quits; sorted by ${sort}${reverse ? ", reversed" : ""}; every ${delay} s)\n`);
      for (let waited = 0; waited < delay * 1000 && !done; waited += 100) await Bun.sleep(100);
    }
  } finally {
    if (stdin.isTTY) stdin.setRawMode(false);
    stdin.pause();
  }
  return 0;
}
