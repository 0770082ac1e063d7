// Cgroups for an ordinary user's containers. An unprivileged user can make
// cgroups only where an admin delegated a subtree to it (what pam_cgfs does
// for LXC on cgroup v1, and systemd's Delegate=yes on v2). `lxt delegate
// USER` is that admin step for lxt: a cgroup `lxt.user.UID` at the root of
// every v1 hierarchy, owned by the user (directory, tasks, cgroup.procs), its
// cpuset filled from the parent. On v1 a process may move itself into a
// cgroup whose tasks file it owns, so the user's containers go there without
// the user's session being moved. On v2 moving needs write access to the
// common ancestor too: there the user's session must already be inside a
// delegated cgroup (systemd does this for user@UID.service), and lxt uses the
// caller's own cgroup when it is writable.
import { chownSync, existsSync, rmdirSync, statSync } from "node:fs";
import { LxtError } from "../util/errors.ts";
import { mkdirOne, readText, writeValue } from "./fs.ts";
import type { Hierarchy } from "./types.ts";

export const DELEGATED_PREFIX = "lxt.user.";

/** The delegated base for UID in a v1 hierarchy, when an admin made one and it is the user's. */
export function delegatedBase(h: Hierarchy, uid: number): string | undefined {
  if (h.unified) return undefined;
  const dir = `${h.mountpoint}/${DELEGATED_PREFIX}${uid}`;
  try {
    const st = statSync(`${dir}/tasks`);
    return st.uid === uid ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** Makes (idempotently) the user's cgroup in every v1 hierarchy; returns the directories. */
export function delegate(hierarchies: Hierarchy[], uid: number, gid: number): string[] {
  const v1 = hierarchies.filter((h) => !h.unified);
  if (!v1.length)
    throw new LxtError(
      "this host has no cgroup v1 hierarchy: on cgroup v2 an ordinary user's session must run in a delegated cgroup",
      "with systemd, user sessions get one (user@UID.service has Delegate=yes); run lxt from that session, or under `systemd-run --user --scope -p Delegate=yes`",
    );
  const out: string[] = [];
  for (const h of v1) {
    const dir = `${h.mountpoint}/${DELEGATED_PREFIX}${uid}`;
    mkdirOne(dir);
    if (h.controllers.includes("cpuset"))
      for (const f of ["cpuset.cpus", "cpuset.mems"]) {
        if ((readText(`${dir}/${f}`) ?? "").trim() === "") writeValue(`${dir}/${f}`, (readText(`${h.mountpoint}/${f}`) ?? "").trim());
      }
    for (const f of ["", "/tasks", "/cgroup.procs", "/cgroup.clone_children", "/notify_on_release"]) if (existsSync(`${dir}${f}`)) chownSync(`${dir}${f}`, uid, gid);
    out.push(dir);
  }
  return out;
}

/** Removes the user's delegated cgroups (they must be empty: no running container of the user). */
export function undelegate(hierarchies: Hierarchy[], uid: number): string[] {
  const out: string[] = [];
  for (const h of hierarchies.filter((x) => !x.unified)) {
    const dir = `${h.mountpoint}/${DELEGATED_PREFIX}${uid}`;
    if (!existsSync(dir)) continue;
    try {
      rmdirSync(dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new LxtError(`cannot remove ${dir}: ${code === "EBUSY" || code === "ENOTEMPTY" ? "the user's containers still use it" : code}`, "stop the user's containers first");
    }
    out.push(dir);
  }
  return out;
}
