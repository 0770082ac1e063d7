// What every command does first: parse LXC-style options, answer --help,
// and resolve the lxcpath and the container name.
import { COMMON, parseArgs, UsageError, type OptSpec, type Parsed } from "./args.ts";
import { checkName, makeContext, type Context } from "../container/context.ts";
import type { Cli } from "./main.ts";
import { err, out } from "./output.ts";
import { LEVELS, parseLevel, setupLog } from "../util/log.ts";

export interface CommandDef {
  usage: string;
  options?: OptSpec[];
  /** -n is required */
  needsName?: boolean;
}

export interface Invocation extends Parsed {
  ctx: Context;
  name?: string;
  /** -P may repeat for ls/monitor */
  lxcpaths: string[];
  help: boolean;
}

export function invocation(argv: string[], cli: Cli, def: CommandDef): Invocation {
  const p = parseArgs(argv, [...COMMON, ...(def.options ?? [])], cli.tool);
  const lxcpaths = (p.opts.lxcpath as string[] | undefined) ?? [];
  const ctx = makeContext(cli.mode, lxcpaths[lxcpaths.length - 1]);
  const help = p.opts.help === true;
  if (help) {
    out(`usage: ${cli.tool} ${def.usage}\n\nCommon options: -n NAME, -P LXCPATH, --rcfile FILE, -o LOGFILE, -l LOGPRIORITY, -q, --help, --version\n`);
    return { ...p, ctx, lxcpaths, help };
  }
  let name = p.opts.name as string | undefined;
  const lvl = p.opts.logpriority as string | undefined;
  const level = lvl === undefined ? undefined : parseLevel(lvl);
  if (lvl !== undefined && level === undefined) throw new UsageError(`invalid log priority \`${lvl}\``, `use one of ${LEVELS.join(", ")} (or 0-8)`);
  setupLog(cli.tool, name, p.opts.logfile as string | undefined, level);
  if (def.needsName) {
    if (!name) throw new UsageError(`${cli.tool}: missing container name, use --name option`, `usage: ${cli.tool} ${def.usage}`);
    name = checkName(name);
    cli.name = name;
  }
  return { ...p, ctx, name, lxcpaths: lxcpaths.length ? lxcpaths : [ctx.lxcpath], help };
}

export { err, out };
