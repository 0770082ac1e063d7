import { AlreadyRunningError, start } from "../../container/start.ts";
import { err, invocation } from "../common.ts";
import type { Cli } from "../main.ts";

export async function run(argv: string[], cli: Cli): Promise<number> {
  const inv = invocation(argv, cli, {
    usage: "-n NAME [-d|-F] [-f CONFIG] [-s KEY=VALUE]... [-- COMMAND]",
    needsName: true,
    options: [
      { name: "daemon", short: "d", kind: "flag" },
      { name: "foreground", short: "F", kind: "flag" },
      { name: "rcfile", short: "f", kind: "value" },
      { name: "define", short: "s", kind: "list" },
      { name: "console", short: "c", kind: "value" },
      { name: "console-log", short: "L", kind: "value" },
      { name: "pidfile", short: "p", kind: "value" },
      { name: "close-all-fds", short: "C", kind: "flag" },
    ],
  });
  if (inv.help) return 0;
  const defines = [...((inv.opts.define as string[] | undefined) ?? [])];
  if (inv.opts["console-log"]) defines.push(`lxc.console.logfile=${inv.opts["console-log"]}`);
  if (inv.opts.console) defines.push(`lxc.console.path=${inv.opts.console}`);
  const foreground = inv.opts.foreground === true && inv.opts.daemon !== true;
  try {
    const res = await start(inv.ctx, inv.name!, {
      onWarning: (w) => err(`${cli.tool}: ${inv.name}: warning: ${w}\n`),
      rcfile: inv.opts.rcfile as string | undefined,
      defines,
      argv: inv.rest,
      mode: foreground ? "foreground" : "daemon",
    });
    if (inv.opts.pidfile) await Bun.write(inv.opts.pidfile as string, `${res.initPid}\n`);
  } catch (e) {
    if (e instanceof AlreadyRunningError) {
      err(`${cli.tool}: ${inv.name}: ${e.message}\n`);
      return e.exitCode;
    }
    throw e;
  }
  // lxc-start -F returns 0 once the container ran, whatever its init returned.
  return 0;
}
