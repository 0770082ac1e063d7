// lxt usernsexec (like lxc-usernsexec): run a command in a new user (and
// mount) namespace with the given id maps, as root inside it.
//   -m u:NSID:HOSTID:RANGE / g:... / b:... (both), repeatable
// Without -m: the caller's uid/gid become 0 inside and its /etc/subuid and
// /etc/subgid ranges follow from 1, as lxc-usernsexec does.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { encodePlan, type Op } from "../../runtime/encode.ts";
import { shimPath } from "../../runtime/statefile.ts";
import { subordinateRanges } from "../../security/preflight.ts";
import { UsageError } from "../args.ts";
import { invocation } from "../common.ts";
import type { Cli } from "../main.ts";

interface Map {
  kind: "u" | "g";
  ns: number;
  host: number;
  range: number;
}

export function parseMaps(specs: string[]): Map[] {
  const out: Map[] = [];
  for (const s of specs) {
    const m = /^([ugb]):(\d+):(\d+):(\d+)$/.exec(s);
    if (!m || Number(m[4]) === 0) throw new UsageError(`invalid id map \`${s}\``, "write -m u|g|b:NSID:HOSTID:RANGE, e.g. -m b:0:100000:65536");
    const kinds = m[1] === "b" ? (["u", "g"] as const) : [m[1] as "u" | "g"];
    for (const kind of kinds) out.push({ kind, ns: Number(m[2]), host: Number(m[3]), range: Number(m[4]) });
  }
  return out;
}

/** The caller as root inside, then its subordinate ranges. */
export function defaultMaps(uid: number, gid: number, user: string): Map[] {
  const out: Map[] = [{ kind: "u", ns: 0, host: uid, range: 1 }, { kind: "g", ns: 0, host: gid, range: 1 }];
  for (const [kind, file, id] of [["u", "/etc/subuid", uid], ["g", "/etc/subgid", gid]] as const) {
    let next = 1;
    for (const [start, count] of subordinateRanges(file, user, id)) {
      out.push({ kind, ns: next, host: start, range: count });
      next += count;
    }
  }
  return out;
}

export async function run(argv: string[], cli: Cli): Promise<number> {
  const inv = invocation(argv, cli, { usage: "[-m u|g|b:NSID:HOSTID:RANGE]... [-- COMMAND]", options: [{ name: "map", short: "m", kind: "list" }] });
  if (inv.help) return 0;
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const user = process.env.USER ?? (uid === 0 ? "root" : String(uid));
  const maps = (inv.opts.map as string[] | undefined)?.length ? parseMaps(inv.opts.map as string[]) : defaultMaps(uid, gid, user);
  if (!maps.some((m) => m.kind === "u" && m.ns === 0) || !maps.some((m) => m.kind === "g" && m.ns === 0))
    throw new UsageError("no map gives the namespace a root (id 0) for both uids and gids", "add -m b:0:HOSTID:1 (or u:/g: maps for id 0)");
  const ops: Op[] = [];
  for (const kind of ["u", "g"] as const) {
    const lines = maps.filter((m) => m.kind === kind).map((m) => `${m.ns} ${m.host} ${m.range}`);
    ops.push(["idmap", kind, uid === 0 ? "direct" : kind === "u" ? "/usr/bin/newuidmap" : "/usr/bin/newgidmap", ...lines]);
  }
  const cmd = inv.rest?.length ? inv.rest : [process.env.SHELL ?? "/bin/sh"];
  ops.push(["exec", ...cmd]);
  const file = `/tmp/.lxt-usernsexec-${process.pid}`;
  writeFileSync(file, encodePlan(ops), { mode: 0o600 });
  try {
    const p = Bun.spawn([shimPath(), "usernsexec", file], { stdio: ["inherit", "inherit", "inherit"] });
    return await p.exited;
  } finally {
    rmSync(file, { force: true });
  }
}
