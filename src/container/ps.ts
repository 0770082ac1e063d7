// lxt ps: tie host processes to containers. Membership comes from each
// running container's cgroup (every process of the container, however it got
// there: init's descendants and attached commands alike); the in-container
// PID from the NSpid line of /proc/PID/status.
import { readFileSync } from "node:fs";
import { containerNames } from "./list.ts";
import { runDir, type Context } from "./context.ts";
import { openCgroup, status } from "./state.ts";

export interface ProcRow {
  container: string;
  pid: number;
  /** PID as seen inside the container's pid namespace */
  nspid?: number;
  user: string;
  cmd: string;
}

function readProc(pid: number): { nspid?: number; uid?: number; cmd: string } | undefined {
  try {
    const st = readFileSync(`/proc/${pid}/status`, "utf8");
    const ns = /^NSpid:\s+(.*)$/m.exec(st)?.[1]?.trim().split(/\s+/).map(Number);
    const uid = Number(/^Uid:\s+(\d+)/m.exec(st)?.[1]);
    let cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0+$/, "").replaceAll("\0", " ");
    if (!cmd) cmd = `[${/^Name:\s+(.*)$/m.exec(st)?.[1] ?? "?"}]`;
    return { nspid: ns && ns.length > 1 ? ns[ns.length - 1] : undefined, uid, cmd };
  } catch {
    return undefined; // exited meanwhile
  }
}

let users: Map<number, string> | undefined;
function userName(uid: number | undefined): string {
  if (uid === undefined) return "?";
  if (!users) {
    users = new Map();
    try {
      for (const l of readFileSync("/etc/passwd", "utf8").split("\n")) {
        const f = l.split(":");
        if (f.length > 2) users.set(Number(f[2]), f[0]!);
      }
    } catch {
      // no passwd: numbers it is
    }
  }
  return users.get(uid) ?? String(uid);
}

export function containerProcesses(ctx: Context, names?: string[]): ProcRow[] {
  const rows: ProcRow[] = [];
  for (const name of names ?? containerNames(ctx)) {
    if (status(ctx, name).state === "STOPPED") continue;
    const cg = openCgroup(runDir(ctx, name));
    if (!cg) continue;
    for (const pid of cg.pids().sort((a, b) => a - b)) {
      const p = readProc(pid);
      if (p) rows.push({ container: name, pid, nspid: p.nspid, user: userName(p.uid), cmd: p.cmd });
    }
  }
  return rows;
}

/** Which container of this lxcpath owns a host PID (undefined: none). */
export function ownerOf(ctx: Context, pid: number): ProcRow | undefined {
  return containerProcesses(ctx).find((r) => r.pid === pid);
}
