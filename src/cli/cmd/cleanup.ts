// Hidden: the monitor execs this after the container's init exited.
import { cleanup } from "../../container/cleanup.ts";
import { invocation } from "../common.ts";
import { err } from "../output.ts";
import type { Cli } from "../main.ts";

export async function run(argv: string[], cli: Cli): Promise<number> {
  const inv = invocation(argv, cli, {
    usage: "-n NAME -P LXCPATH --rundir DIR (internal)",
    needsName: true,
    options: [{ name: "rundir", kind: "value" }],
  });
  const rundir = (inv.opts.rundir as string | undefined) ?? `${inv.ctx.runroot}/${inv.name}`;
  const res = await cleanup(inv.ctx, inv.name!, { rundir, rcfile: inv.opts.rcfile as string | undefined });
  for (const w of res.warnings) err(`${cli.tool}: ${inv.name}: ${w}\n`);
  // init rebooted (reboot(2) in a pid namespace ends init with SIGHUP): start it again.
  const st = res.exitStatus;
  if (st !== undefined && (st & 0x7f) === 1 && res.spec && !res.spec.ephemeral) {
    const { start } = await import("../../container/start.ts");
    await start(inv.ctx, inv.name!, { mode: "daemon", rcfile: inv.opts.rcfile as string | undefined });
  }
  return 0;
}
