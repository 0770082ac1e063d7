// `lxt-shim attach` and `lxt-shim console`: entering a running container.
// Loads only the plan encoding (not the start machinery): attach is the
// hottest path after start.
import { rmSync, statSync, writeFileSync } from "node:fs";
import type { Namespace } from "../spec/types.ts";
import { LxtError } from "../util/errors.ts";
import { encodePlan, type Op } from "./encode.ts";
import { shimPath } from "./statefile.ts";

/** PATH for processes lxt starts in a container (LXC's default). */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface AttachOptions {
  initPid: number;
  namespaces?: Namespace[];
  cgroupJoinFiles: string[];
  env: Record<string, string>;
  uid: number;
  gid: number;
  cwd: string;
  /** bounding-set capabilities to drop (numbers) */
  capDrop: number[];
  personality?: number;
  /** the container's compiled seccomp filter, applied to the attached process (not with -e) */
  seccompFile?: string;
  noNewPrivs: boolean;
  argv?: string[];
}

const NS_ORDER: Namespace[] = ["user", "cgroup", "ipc", "uts", "net", "pid", "time", "mnt"];

export async function attach(o: AttachOptions): Promise<number> {
  const ops: Op[] = [["pid", String(o.initPid)]];
  for (const ns of NS_ORDER) {
    if (o.namespaces && !o.namespaces.includes(ns)) continue;
    try {
      // enter only the namespaces the container does not share with us
      if (statSync(`/proc/${o.initPid}/ns/${ns}`).ino === statSync(`/proc/self/ns/${ns}`).ino) continue;
    } catch {
      continue;
    }
    ops.push(["ns", ns]);
  }
  ops.push(...attachSteps(o));
  ops.push(["exec", ...(o.argv?.length ? o.argv : ["/bin/sh"])]);
  return runAttachPlan(ops, ["inherit", "inherit", "inherit"]);
}

/** What an attached process goes through after entering the namespaces: cgroup, capabilities, filters, ids, environment. */
export function attachSteps(o: Omit<AttachOptions, "initPid" | "namespaces" | "argv">): Op[] {
  const ops: Op[] = [];
  for (const f of o.cgroupJoinFiles) ops.push(["join", f]);
  if (o.capDrop.length) ops.push(["capdrop", ...o.capDrop.map(String)]);
  if (o.noNewPrivs) ops.push(["nonewprivs"]);
  if (o.personality !== undefined) ops.push(["personality", String(o.personality)]);
  if (o.seccompFile) ops.push(["seccomp", o.seccompFile]);
  ops.push(["ids", String(o.gid), String(o.uid)], ["chdir", o.cwd]);
  for (const [k, v] of Object.entries(o.env)) ops.push(["env", `${k}=${v}`]);
  return ops;
}

/**
 * RUNDIR/attach.plan, written by start: the plan of a plain `lxt attach -n
 * NAME -- CMD` (the caller's environment kept), for the native front of
 * `lxt` (native/shim.c, cmd_front) to serve without starting Bun. It adds the
 * init pid, the namespaces that differ from the caller's, the caller's
 * environment under these variables, and the command. The first record names
 * the lxcpath the container was started from, and whether it is the default.
 */
export function fastAttachPlan(lxcpath: string, isDefault: boolean, rec: { cgroupJoinFiles: string[]; capDrop: number[]; noNewPrivs: boolean; personality?: number; seccompFile?: string; environment: Array<{ name: string; value?: string }> }): Uint8Array {
  const env: Record<string, string> = { container: "lxc" };
  for (const e of rec.environment) if (e.value !== undefined) env[e.name] = e.value; // the rest: the caller's own, kept anyway
  return encodePlan([["lxcpath", lxcpath, isDefault ? "1" : "0"], ...attachSteps({ ...rec, env, uid: 0, gid: 0, cwd: "/" })]);
}

async function runAttachPlan(ops: Op[], stdio: ["inherit" | "ignore", "inherit" | "pipe", "inherit" | "pipe"]): Promise<number> {
  const file = `/tmp/.lxt-attach-${process.pid}-${Date.now()}`;
  writeFileSync(file, encodePlan(ops), { mode: 0o600 });
  try {
    const p = Bun.spawn([shimPath(), "attach", file], { stdio });
    return await p.exited;
  } finally {
    rmSync(file, { force: true });
  }
}

/**
 * Runs plain file operations (mkdirin, mknod, unlink...) in a running
 * container's mount namespace only (as host root: device nodes can be made
 * even for a user-namespace container), then exits. Throws with the shim's
 * message on failure.
 */
export async function inMountNamespace(initPid: number, ops: Op[]): Promise<void> {
  const p = Bun.spawn([shimPath(), "attach", "-"], { stdin: "pipe", stdout: "ignore", stderr: "pipe" });
  p.stdin.write(encodePlan([["pid", String(initPid)], ["ns", "mnt"], ...ops, ["exit", "0"]]));
  await p.stdin.end();
  const code = await p.exited;
  if (code !== 0) throw new LxtError((await new Response(p.stderr).text()).trim().replace(/^lxt attach: /, "") || `the shim exited with ${code}`);
}

/** `lxt console`: the C client connects to the monitor's socket and proxies the terminal. */
export async function consoleAttach(rundir: string, tty: number, escape: string): Promise<number> {
  const p = Bun.spawn([shimPath(), "console", `${rundir}/sock`, String(tty), escape], { stdio: ["inherit", "inherit", "inherit"] });
  return await p.exited;
}
