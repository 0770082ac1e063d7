import { attach, type AttachRequest } from "../../container/attach.ts";
import type { Namespace } from "../../spec/types.ts";
import { UsageError } from "../args.ts";
import { invocation } from "../common.ts";
import type { Cli } from "../main.ts";

const NS_NAMES: Record<string, Namespace> = {
  MOUNT: "mnt", PID: "pid", UTSNAME: "uts", IPC: "ipc", USER: "user", NETWORK: "net", CGROUP: "cgroup",
};

export async function run(argv: string[], cli: Cli): Promise<number> {
  const inv = invocation(argv, cli, {
    usage: "-n NAME [-s NAMESPACES] [-e] [--clear-env|--keep-env] [-v VAR=VAL]... [--keep-var VAR]... [-u UID] [-g GID] [-- COMMAND]",
    needsName: true,
    options: [
      { name: "elevated-privileges", short: "e", kind: "flag", optionalValue: true },
      { name: "namespaces", short: "s", kind: "value" },
      { name: "remount-sys-proc", short: "R", kind: "flag" },
      { name: "arch", short: "a", kind: "value" },
      { name: "clear-env", kind: "flag" },
      { name: "keep-env", kind: "flag" },
      { name: "set-var", short: "v", kind: "list" },
      { name: "keep-var", kind: "list" },
      { name: "uid", short: "u", kind: "value" },
      { name: "gid", short: "g", kind: "value" },
      { name: "pty-log", short: "L", kind: "value" },
      { name: "context", short: "c", kind: "value" },
    ],
  });
  if (inv.help) return 0;
  const o = inv.opts;
  if (o["clear-env"] && o["keep-env"]) throw new UsageError("--clear-env and --keep-env are mutually exclusive");
  let namespaces: Namespace[] | undefined;
  if (o.namespaces) {
    namespaces = (o.namespaces as string).split("|").map((s) => {
      const ns = NS_NAMES[s.trim().toUpperCase()];
      if (!ns) throw new UsageError(`invalid namespace \`${s}\``, `use ${Object.keys(NS_NAMES).join(", ")} joined by |`);
      return ns;
    });
  }
  const num = (v: unknown, what: string) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`invalid ${what} \`${v}\``);
    return n;
  };
  const setVars = ((o["set-var"] as string[] | undefined) ?? []).map((v) => {
    const i = v.indexOf("=");
    if (i <= 0) throw new UsageError(`invalid variable \`${v}\``, "use -v NAME=VALUE");
    return [v.slice(0, i), v.slice(i + 1)] as [string, string];
  });
  const req: AttachRequest = {
    command: inv.rest ?? (inv.args.length ? inv.args : undefined),
    namespaces,
    elevated: o["elevated-privileges"] !== undefined && o["elevated-privileges"] !== false,
    clearEnv: o["clear-env"] === true,
    setVars,
    keepVars: (o["keep-var"] as string[] | undefined) ?? [],
    uid: num(o.uid, "uid"),
    gid: num(o.gid, "gid"),
    rcfile: o.rcfile as string | undefined,
  };
  return attach(inv.ctx, inv.name!, req);
}
