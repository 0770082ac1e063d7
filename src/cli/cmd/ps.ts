import { ownerOf, containerProcesses } from "../../container/ps.ts";
import { makeContext } from "../../container/context.ts";
import { UsageError } from "../args.ts";
import { invocation, out } from "../common.ts";
import { table } from "../format.ts";
import { err } from "../output.ts";
import type { Cli } from "../main.ts";

export async function run(argv: string[], cli: Cli): Promise<number> {
  const inv = invocation(argv, cli, {
    usage: "[-n NAME] [--pid PID] [--json]   (host processes and the container each belongs to)",
    options: [
      { name: "pid", kind: "value" },
      { name: "json", kind: "flag" },
    ],
  });
  if (inv.help) return 0;
  if (inv.opts.pid !== undefined) {
    const pid = Number(inv.opts.pid);
    if (!Number.isInteger(pid) || pid <= 0) throw new UsageError(`invalid pid \`${inv.opts.pid}\``);
    for (const p of inv.lxcpaths) {
      const row = ownerOf(makeContext(cli.mode, p), pid);
      if (row) {
        out(inv.opts.json ? `${JSON.stringify(row)}\n` : `${row.container}\n`);
        return 0;
      }
    }
    err(`${cli.tool}: pid ${pid} belongs to no container in ${inv.lxcpaths.join(", ")}\n`);
    return 1;
  }
  const rows = inv.lxcpaths.flatMap((p) => containerProcesses(makeContext(cli.mode, p), inv.name ? [inv.name] : undefined));
  if (inv.opts.json) out(`${JSON.stringify(rows)}\n`);
  else out(table(["CONTAINER", "PID", "NSPID", "USER", "CMD"], rows.map((r) => [r.container, String(r.pid), r.nspid ? String(r.nspid) : "-", r.user, r.cmd])));
  return 0;
}
