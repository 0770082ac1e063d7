// Checks made before a container is created or started, so a bad security
// setting is a clear error before anything exists: the id maps an ordinary
// user asks for against what /etc/subuid and /etc/subgid grant it (newuidmap
// would refuse them later, with a message that names neither), and the
// seccomp policy (readable, and valid line by line).
import { readFileSync } from "node:fs";
import { LxtError } from "../util/errors.ts";
import { loadSeccompProfile } from "./seccomp.ts";

export interface IdRange {
  kind: "u" | "g";
  ns: number;
  host: number;
  range: number;
}

/** One lxc.idmap value ("u 0 100000 65536"). */
export function parseIdmap(value: string): IdRange {
  const [k, ns, host, n] = value.trim().split(/\s+/);
  return { kind: k as "u" | "g", ns: Number(ns), host: Number(host), range: Number(n) };
}

/** A ContainerSpec's id maps in the same shape. */
export function idRanges(maps: Array<{ kind: "u" | "g"; nsid: number; hostid: number; range: number }>): IdRange[] {
  return maps.map((m) => ({ kind: m.kind, ns: m.nsid, host: m.hostid, range: m.range }));
}

/** USER's (or ID's) subordinate ranges in /etc/subuid or /etc/subgid, as [first, count]. */
export function subordinateRanges(file: string, user: string, id: number): Array<[number, number]> {
  try {
    return readFileSync(file, "utf8")
      .split("\n")
      .map((l) => l.split(":"))
      .filter((f) => f.length === 3 && (f[0] === user || f[0] === String(id)))
      .map((f) => [Number(f[1]), Number(f[2])] as [number, number]);
  } catch {
    return [];
  }
}

/**
 * An ordinary user may map only its subordinate ids (and its own id, one of
 * it), as newuidmap/newgidmap allow. Root may map anything.
 */
export function checkIdmapsGranted(maps: IdRange[], where: string, who = { uid: process.getuid!(), gid: process.getgid!(), user: process.env.USER ?? process.env.LOGNAME ?? "" }): void {
  if (who.uid === 0) return;
  for (const m of maps) {
    const own = m.kind === "u" ? who.uid : who.gid;
    if (m.range === 1 && m.host === own) continue;
    const file = m.kind === "u" ? "/etc/subuid" : "/etc/subgid";
    const ranges = subordinateRanges(file, who.user || String(who.uid), own);
    if (ranges.some(([first, count]) => m.host >= first && m.host + m.range <= first + count)) continue;
    const granted = ranges.length ? ranges.map(([f, c]) => `${f}-${f + c - 1}`).join(", ") : "none";
    throw new LxtError(
      `${where}: lxc.idmap = ${m.kind} ${m.ns} ${m.host} ${m.range} maps host ids ${m.host}-${m.host + m.range - 1}, outside what ${file} grants ${who.user || who.uid} (${granted})`,
      `map only granted ids (lxt create writes them for you when the config has no lxc.idmap), or ask an admin: usermod --add-sub${m.kind === "u" ? "uids" : "gids"} ...`,
    );
  }
}

/** Reads and parses the policy: unreadable or malformed files fail here, naming the file (and line). */
export function checkSeccompProfile(path: string | undefined): void {
  if (path) loadSeccompProfile(path);
}
