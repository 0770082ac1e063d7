// cgroup v1: one hierarchy per controller (or a few co-mounted), the
// container cgroup made at the same relative path in each. Processes join
// through `tasks` (writing 0 from the single-threaded child before exec): the
// `cgroup.procs` route waits for an RCU grace period (DESIGN.md).
import { accessSync, constants } from "node:fs";
import { delegatedBase } from "./delegate.ts";
import { NotFoundError, NotSupportedError, StateError } from "../util/errors.ts";
import { freezeTimeout, readSetting, removeWithRetry, signalAll, waitFrozen, writeSetting, undoMade } from "./common.ts";
import { exists, mkdirOne, numberIn, procsIn, readText, rmdirTree, tryWrite } from "./fs.ts";
import { checkKey, controllerOf, settingOrder } from "./keys.ts";
import { baseDir, chooseName, containerPath, occupancy, parseProcCgroup } from "./placement.ts";
import { translateSettings } from "./translate.ts";
import type { CgroupRecord, CgroupStats, ContainerCgroup, CreateRequest, FreezerState, LayoutInfo } from "./types.ts";

/** v1 reports "no limit" as the largest page-aligned value */
const UNLIMITED = 2 ** 62;

export class V1Cgroup implements ContainerCgroup {
  readonly version = 1 as const;
  constructor(
    private readonly paths: Record<string, string>,
    private readonly inner?: string,
  ) {}

  record(): CgroupRecord {
    return this.inner === undefined ? { version: 1, paths: { ...this.paths } } : { version: 1, paths: { ...this.paths }, inner: this.inner };
  }

  /** each hierarchy's directory once */
  private dirs(): string[] {
    return [...new Set(Object.values(this.paths))];
  }

  joinFiles(): string[] {
    return this.dirs().map((d) => `${d}${this.inner === undefined ? "" : `/${this.inner}`}/tasks`);
  }

  /** the file for a key, in its controller's hierarchy */
  fileOf(key: string, action: string): { file: string; controller: string } {
    checkKey(key, action);
    const controller = controllerOf(key);
    const dir = this.paths[controller];
    if (!dir)
      throw new NotFoundError(
        `${action} \`${key}\`: no cgroup v1 controller \`${controller}\` is mounted on this host`,
        `mounted: ${Object.keys(this.paths).filter((c) => !c.startsWith("name=")).sort().join(", ")}`,
      );
    return { file: `${dir}/${key}`, controller };
  }

  set(key: string, value: string): void {
    const { file, controller } = this.fileOf(key, "set cgroup");
    writeSetting(file, key, value, controller);
  }

  get(key: string): string {
    const { file, controller } = this.fileOf(key, "read cgroup");
    return readSetting(file, key, controller);
  }

  pids(): number[] {
    const out = new Set<number>();
    for (const d of this.dirs()) procsIn(d, out);
    return [...out];
  }

  stats(): CgroupStats {
    const p = this.paths;
    const s: CgroupStats = {};
    const cpu = p.cpuacct ? numberIn(`${p.cpuacct}/cpuacct.usage`) : undefined;
    if (cpu !== undefined) s.cpuUsageNs = cpu;
    const ticks = p.cpuacct ? readText(`${p.cpuacct}/cpuacct.stat`) : undefined; // USER_HZ = 100
    if (ticks !== undefined) {
      const t = (k: string) => Number(new RegExp(`^${k} (\\d+)`, "m").exec(ticks)?.[1] ?? 0) * 10_000_000;
      s.cpuUserNs = t("user");
      s.cpuSystemNs = t("system");
    }
    if (p.memory) {
      const usage = numberIn(`${p.memory}/memory.usage_in_bytes`);
      const limit = numberIn(`${p.memory}/memory.limit_in_bytes`);
      const kmem = numberIn(`${p.memory}/memory.kmem.usage_in_bytes`);
      const memsw = numberIn(`${p.memory}/memory.memsw.usage_in_bytes`);
      if (usage !== undefined) s.memoryBytes = usage;
      if (limit !== undefined && limit < UNLIMITED) s.memoryLimit = limit;
      if (kmem !== undefined) s.kmemBytes = kmem;
      if (memsw !== undefined && usage !== undefined) s.swapBytes = Math.max(0, memsw - usage);
    }
    if (p.blkio) {
      const text = readText(`${p.blkio}/blkio.throttle.io_service_bytes_recursive`) ?? readText(`${p.blkio}/blkio.throttle.io_service_bytes`);
      if (text !== undefined) {
        const io = { read: 0, write: 0 };
        for (const l of text.split("\n")) {
          const [, op, n] = l.split(" ");
          if (op === "Read") io.read += Number(n);
          else if (op === "Write") io.write += Number(n);
        }
        s.blkioBytes = io;
      }
    }
    s.pids = (p.pids ? numberIn(`${p.pids}/pids.current`) : undefined) ?? this.pids().length;
    return s;
  }

  private freezerFile(): string | undefined {
    return this.paths.freezer ? `${this.paths.freezer}/freezer.state` : undefined;
  }

  freeze(): void {
    const f = this.freezerFile();
    if (!f) throw new NotSupportedError("freeze: the freezer controller is not mounted on this host", "mount the v1 freezer hierarchy");
    writeSetting(f, "freezer.state", "FROZEN", "freezer");
    if (!waitFrozen(() => this.freezerState(), () => tryWrite(f, "FROZEN"), 5000)) throw freezeTimeout(this.paths.freezer!);
  }

  thaw(): void {
    const f = this.freezerFile();
    if (!f) throw new NotSupportedError("thaw: the freezer controller is not mounted on this host", "mount the v1 freezer hierarchy");
    writeSetting(f, "freezer.state", "THAWED", "freezer");
  }

  freezerState(): FreezerState {
    const f = this.freezerFile();
    const v = f ? readText(f)?.trim() : undefined;
    return v === "FROZEN" || v === "FREEZING" ? v : "THAWED";
  }

  /** Freezes (so nothing forks meanwhile), signals every process, thaws unless it was frozen before and the signal is not SIGKILL. */
  kill(sig: number): void {
    const f = this.freezerFile();
    if (!f || !exists(f)) return signalAll(this.pids(), sig);
    const before = this.freezerState();
    tryWrite(f, "FROZEN");
    waitFrozen(() => this.freezerState(), () => tryWrite(f, "FROZEN"), 1000);
    signalAll(this.pids(), sig);
    if (before === "THAWED" || sig === 9) tryWrite(f, "THAWED");
  }

  remove(): void {
    const dirs = this.dirs().filter((d) => exists(d));
    if (!dirs.length) return;
    const f = this.freezerFile();
    if (f) tryWrite(f, "THAWED");
    removeWithRetry(dirs, () => this.pids(), () => signalAll(this.pids(), 9), dirs[0]!);
  }
}

/** A new directory's cpuset is empty, and tasks cannot join it until cpus and mems are set: copy the parent's. */
function initCpuset(dir: string, parent: string): void {
  for (const f of ["cpuset.cpus", "cpuset.mems"]) {
    if (readText(`${dir}/${f}`)?.trim()) continue;
    const eff = f === "cpuset.cpus" ? "cpuset.effective_cpus" : "cpuset.effective_mems";
    const v = readText(`${parent}/${f}`)?.trim() || readText(`${parent}/${eff}`)?.trim();
    if (v) writeSetting(`${dir}/${f}`, f, v, "cpuset");
  }
  // cgroups made inside the container (systemd, nested lxt) inherit the same way
  tryWrite(`${dir}/cgroup.clone_children`, "1");
}

/** Makes base/rel component by component; returns the directories it made (outermost first). */
function makePath(base: string, rel: string, cpuset: boolean): string[] {
  const made: string[] = [];
  let cur = base;
  const parts = rel.split("/");
  for (let i = 0; i < parts.length; i++) {
    const parent = cur;
    cur = `${cur}/${parts[i]}`;
    if (mkdirOne(cur)) made.push(cur);
    else if (i === parts.length - 1) throw new StateError(`create cgroup \`${cur}\`: another start made it meanwhile`, "retry");
    if (cpuset && made.includes(cur)) initCpuset(cur, parent);
  }
  return made;
}

/** The v1 container cgroup: the same path in every hierarchy, settings applied, undone on failure. */
function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

export function createV1(layout: LayoutInfo, req: CreateRequest, cgText: string | undefined): V1Cgroup {
  const { name, spec } = req;
  const hs = layout.hierarchies.filter((h) => !h.unified);
  if (!hs.length) throw new NotSupportedError(`create cgroup for \`${name}\`: no cgroup v1 hierarchy is mounted`, "mount the v1 controllers, or use the v2 driver");
  // refuse what cannot be applied before making anything
  const uid = process.getuid?.() ?? 0;
  // devices.allow/deny need CAP_SYS_ADMIN: an ordinary user's (user-namespace) container
  // cannot make device nodes anyway, and sees the host's through their own permissions
  const settings = [...settingOrder(spec.v1), ...translateSettings(spec.v2, 2, 1)].filter((kv) => uid === 0 || !kv.key.startsWith("devices."));
  const cg = cgText === undefined ? undefined : parseProcCgroup(cgText);
  // an ordinary user whose own cgroup is not writable: the cgroup an admin delegated (lxt delegate)
  const bases = hs.map((h) => {
    const b = cg ? baseDir(h, cg) : h.mountpoint;
    return uid === 0 || cg === undefined || writable(b) ? b : (delegatedBase(h, uid) ?? b);
  });
  const want = containerPath(name, spec);
  const chosen = chooseName(want.rel, want.explicit, (r) => occupancy(bases, r));
  const inner = spec.dirContainerInner;

  const made: string[] = [];
  try {
    const paths: Record<string, string> = {};
    hs.forEach((h, i) => {
      const base = bases[i]!;
      const dir = `${base}/${chosen.rel}`;
      if (chosen.leftover) rmdirTree(dir); // a crashed run's: settings start afresh
      const cpuset = h.controllers.includes("cpuset");
      made.push(...makePath(base, chosen.rel, cpuset));
      if (inner !== undefined) made.push(...makePath(dir, inner, cpuset));
      for (const c of h.controllers) paths[c] = dir;
    });
    const cgroup = new V1Cgroup(paths, inner);
    for (const { key, value } of settings) cgroup.set(key, value);
    return cgroup;
  } catch (e) {
    undoMade(made);
    throw e;
  }
}
