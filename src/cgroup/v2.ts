// cgroup v2: one unified hierarchy. Processes join through cgroup.procs, or
// are born inside with clone3(CLONE_INTO_CGROUP) on unifiedDir(). Controllers
// reach the container cgroup only when enabled in its parent's
// cgroup.subtree_control, which create() does.
import { NotFoundError, NotSupportedError, StateError } from "../util/errors.ts";
import { freezeTimeout, readSetting, removeWithRetry, signalAll, waitFrozen, writeSetting, undoMade } from "./common.ts";
import { exists, mkdirOne, numberIn, procsIn, readText, rmdirTree, statValue, tryWrite } from "./fs.ts";
import { checkKey, controllerOf, settingOrder } from "./keys.ts";
import { baseDir, chooseName, containerPath, occupancy, parseProcCgroup } from "./placement.ts";
import { translateSettings } from "./translate.ts";
import type { CgroupRecord, CgroupStats, ContainerCgroup, CreateRequest, FreezerState, LayoutInfo } from "./types.ts";

export class V2Cgroup implements ContainerCgroup {
  readonly version = 2 as const;
  constructor(
    private readonly dir: string,
    private readonly inner?: string,
  ) {}

  record(): CgroupRecord {
    return this.inner === undefined ? { version: 2, paths: { unified: this.dir } } : { version: 2, paths: { unified: this.dir }, inner: this.inner };
  }

  unifiedDir(): string {
    return this.inner === undefined ? this.dir : `${this.dir}/${this.inner}`;
  }

  joinFiles(): string[] {
    return [`${this.unifiedDir()}/cgroup.procs`];
  }

  private fileOf(key: string, action: string): { file: string; controller: string } {
    checkKey(key, action);
    const controller = controllerOf(key);
    const file = `${this.dir}/${key}`;
    if (controller !== "cgroup" && !exists(file)) {
      const enabled = (readText(`${this.dir}/cgroup.controllers`) ?? "").split(/\s+/).filter(Boolean);
      if (!enabled.includes(controller))
        throw new NotFoundError(
          `${action} \`${key}\`: the cgroup v2 controller \`${controller}\` is not enabled for this cgroup`,
          `enabled: ${enabled.join(", ") || "none"}; the parent cgroup must offer it (cgroup.subtree_control; on systemd hosts Delegate=yes)`,
        );
    }
    return { file, controller };
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
    return [...procsIn(this.dir)];
  }

  stats(): CgroupStats {
    const d = this.dir;
    const s: CgroupStats = {};
    const usec = statValue(readText(`${d}/cpu.stat`), "usage_usec");
    if (usec !== undefined) s.cpuUsageNs = usec * 1000;
    const cstat = readText(`${d}/cpu.stat`);
    const user = statValue(cstat, "user_usec");
    const sys = statValue(cstat, "system_usec");
    if (user !== undefined) s.cpuUserNs = user * 1000;
    if (sys !== undefined) s.cpuSystemNs = sys * 1000;
    const mem = numberIn(`${d}/memory.current`);
    if (mem !== undefined) s.memoryBytes = mem;
    const max = numberIn(`${d}/memory.max`);
    if (max !== undefined) s.memoryLimit = max;
    const kernel = statValue(readText(`${d}/memory.stat`), "kernel");
    if (kernel !== undefined) s.kmemBytes = kernel;
    const swap = numberIn(`${d}/memory.swap.current`);
    if (swap !== undefined) s.swapBytes = swap;
    const io = readText(`${d}/io.stat`);
    if (io !== undefined) {
      const b = { read: 0, write: 0 };
      for (const m of io.matchAll(/\b(rbytes|wbytes)=(\d+)/g)) b[m[1] === "rbytes" ? "read" : "write"] += Number(m[2]);
      s.blkioBytes = b;
    }
    s.pids = numberIn(`${d}/pids.current`) ?? this.pids().length;
    return s;
  }

  private requireFreezer(action: string): string {
    const f = `${this.dir}/cgroup.freeze`;
    if (!exists(f)) throw new NotSupportedError(`${action} \`${this.dir}\`: no cgroup.freeze (the cgroup v2 freezer needs Linux 5.2)`);
    return f;
  }

  freeze(): void {
    const f = this.requireFreezer("freeze");
    writeSetting(f, "cgroup.freeze", "1", "cgroup");
    if (!waitFrozen(() => this.freezerState(), () => tryWrite(f, "1"), 5000)) throw freezeTimeout(this.dir);
  }

  thaw(): void {
    writeSetting(this.requireFreezer("thaw"), "cgroup.freeze", "0", "cgroup");
  }

  freezerState(): FreezerState {
    if (readText(`${this.dir}/cgroup.freeze`)?.trim() !== "1") return "THAWED";
    return /^frozen 1$/m.test(readText(`${this.dir}/cgroup.events`) ?? "") ? "FROZEN" : "FREEZING";
  }

  /** SIGKILL through cgroup.kill (Linux 5.14) where there is one; otherwise freeze, signal each, thaw. */
  kill(sig: number): void {
    if (sig === 9 && exists(`${this.dir}/cgroup.kill`) && tryWrite(`${this.dir}/cgroup.kill`, "1")) return;
    const f = `${this.dir}/cgroup.freeze`;
    if (!exists(f)) return signalAll(this.pids(), sig);
    const before = this.freezerState();
    tryWrite(f, "1");
    waitFrozen(() => this.freezerState(), () => tryWrite(f, "1"), 1000);
    signalAll(this.pids(), sig);
    if (before === "THAWED" || sig === 9) tryWrite(f, "0");
  }

  remove(): void {
    if (!exists(this.dir)) return;
    tryWrite(`${this.dir}/cgroup.freeze`, "0");
    removeWithRetry([this.dir], () => this.pids(), () => this.kill(9), this.dir);
  }
}

/** Offers controllers to dir's children: everything dir has, best effort; throws if a needed one is not there. */
function enableControllers(dir: string, needed: Set<string>, what: string): void {
  const avail = (readText(`${dir}/cgroup.controllers`) ?? "").split(/\s+/).filter(Boolean);
  const on = new Set((readText(`${dir}/cgroup.subtree_control`) ?? "").split(/\s+/).filter(Boolean));
  for (const c of avail) if (!on.has(c) && tryWrite(`${dir}/cgroup.subtree_control`, `+${c}`)) on.add(c);
  for (const c of needed)
    if (!on.has(c))
      throw new NotSupportedError(
        `create cgroup \`${what}\`: the cgroup v2 controller \`${c}\` is not available below \`${dir}\``,
        avail.includes(c)
          ? `${dir} holds processes, so it cannot pass controllers on; set lxc.cgroup.relative = 0 or move them`
          : `it is not delegated there (on systemd hosts: Delegate=yes); or remove the lxc.cgroup2.${c}.* keys`,
      );
}

function makePath(base: string, rel: string, needed: Set<string>, what: string): string[] {
  const made: string[] = [];
  let cur = base;
  const parts = rel.split("/");
  for (let i = 0; i < parts.length; i++) {
    enableControllers(cur, needed, what);
    cur = `${cur}/${parts[i]}`;
    if (mkdirOne(cur)) made.push(cur);
    else if (i === parts.length - 1) throw new StateError(`create cgroup \`${cur}\`: another start made it meanwhile`, "retry");
  }
  return made;
}

export function createV2(layout: LayoutInfo, req: CreateRequest, cgText: string | undefined): V2Cgroup {
  const { name, spec } = req;
  const h = layout.hierarchies.find((x) => x.unified);
  if (!h) throw new NotSupportedError(`create cgroup for \`${name}\`: no cgroup2 hierarchy is mounted`, "mount cgroup2, or use the v1 driver");
  const settings = [...settingOrder(spec.v2), ...translateSettings(spec.v1, 1, 2)];
  const needed = new Set(settings.map((kv) => controllerOf(kv.key)).filter((c) => c !== "cgroup" && c !== ""));
  const base = cgText === undefined ? h.mountpoint : baseDir(h, parseProcCgroup(cgText));
  const want = containerPath(name, spec);
  const chosen = chooseName(want.rel, want.explicit, (r) => occupancy([base], r));
  const dir = `${base}/${chosen.rel}`;
  const inner = spec.dirContainerInner;

  const made: string[] = [];
  try {
    if (chosen.leftover) rmdirTree(dir);
    made.push(...makePath(base, chosen.rel, needed, chosen.rel));
    if (inner !== undefined) made.push(...makePath(dir, inner, needed, chosen.rel));
    const cgroup = new V2Cgroup(dir, inner);
    for (const { key, value } of settings) cgroup.set(key, value);
    return cgroup;
  } catch (e) {
    undoMade(made);
    throw e;
  }
}
