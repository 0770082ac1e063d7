// A small getopt_long: LXC's option syntax (-n NAME, -nNAME, --name NAME,
// --name=NAME, bundled -dF, `--` ends options). Hand-written rather than a
// library because every lxt command pays its import cost (DESIGN.md).
import { LxtError } from "../util/errors.ts";

export interface OptSpec {
  /** long name, also the key in the result */
  name: string;
  short?: string;
  /** "flag" takes no value; "value" keeps the last; "list" keeps all */
  kind: "flag" | "value" | "list";
  /** long aliases */
  aliases?: string[];
  /** an optional value: --nesting or --nesting=2 (only the = form binds) */
  optionalValue?: boolean;
}

export interface Parsed {
  opts: Record<string, string | boolean | string[] | undefined>;
  /** positional arguments before `--` */
  args: string[];
  /** everything after `--` (undefined when there was no `--`) */
  rest?: string[];
}

export class UsageError extends LxtError {
  override name = "UsageError";
}

export function parseArgs(argv: string[], specs: OptSpec[], tool: string): Parsed {
  const byShort = new Map<string, OptSpec>();
  const byLong = new Map<string, OptSpec>();
  for (const s of specs) {
    if (s.short) byShort.set(s.short, s);
    byLong.set(s.name, s);
    for (const a of s.aliases ?? []) byLong.set(a, s);
  }
  const opts: Parsed["opts"] = {};
  const args: string[] = [];
  let rest: string[] | undefined;
  const put = (s: OptSpec, v: string | true) => {
    if (s.kind === "list") ((opts[s.name] as string[] | undefined) ?? (opts[s.name] = [])).push(v as string);
    else opts[s.name] = v;
  };
  const bad = (msg: string) => new UsageError(`${tool}: ${msg}`, `see \`${tool} --help\``);

  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      rest = argv.slice(i + 1);
      break;
    }
    if (a.startsWith("--") && a.length > 2) {
      const eq = a.indexOf("=");
      const key = eq > 0 ? a.slice(2, eq) : a.slice(2);
      const s = byLong.get(key);
      if (!s) throw bad(`unknown option --${key}`);
      if (s.kind === "flag") {
        if (eq > 0 && !s.optionalValue) throw bad(`option --${key} takes no value`);
        put(s, eq > 0 ? a.slice(eq + 1) as never : true);
        continue;
      }
      if (eq > 0) put(s, a.slice(eq + 1));
      else {
        if (i + 1 >= argv.length) throw bad(`option --${key} needs a value`);
        put(s, argv[++i]!);
      }
      continue;
    }
    if (a.startsWith("-") && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const c = a[j]!;
        const s = byShort.get(c);
        if (!s) throw bad(`unknown option -${c}`);
        if (s.kind === "flag") {
          put(s, true);
          continue;
        }
        const inline = a.slice(j + 1);
        if (inline) put(s, inline);
        else {
          if (i + 1 >= argv.length) throw bad(`option -${c} needs a value`);
          put(s, argv[++i]!);
        }
        break;
      }
      continue;
    }
    args.push(a);
  }
  return { opts, args, rest };
}

/** Options every lxc-* tool takes (LXC_COMMON_OPTIONS). */
export const COMMON: OptSpec[] = [
  { name: "name", short: "n", kind: "value" },
  { name: "lxcpath", short: "P", kind: "list" },
  { name: "logfile", short: "o", kind: "value" },
  { name: "logpriority", short: "l", kind: "value" },
  { name: "quiet", short: "q", kind: "flag" },
  { name: "rcfile", kind: "value" },
  { name: "help", short: "h", kind: "flag", aliases: ["usage"] },
  { name: "version", kind: "flag" },
];
