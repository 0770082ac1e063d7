// cgroup drivers: v1 (one hierarchy per controller) and v2 (unified), chosen
// from what the host has mounted. The container's cgroup is lxt.payload.NAME
// below the caller's cgroup; the child joins by writing 0 to the join files
// (v1 `tasks`: no cgroup.procs RCU wait, see DESIGN.md).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import type { ContainerSpec } from "../spec/types.ts";
import { LxtError, NotSupportedError } from "../util/errors.ts";

export type CgroupLayout = "v1" | "hybrid" | "v2";
export interface CgroupRecord {
  version: 1 | 2;
  /** controller (v1) or "unified" (v2) -> directory */
  paths: Record<string, string>;
}
export interface Stats {
  cpuUsageNs?: number;
  memoryBytes?: number;
  memoryLimit?: number;
  kmemBytes?: number;
  swapBytes?: number;
  blkioBytes?: { read: number; write: number };
  pids?: number;
}
export interface ContainerCgroup {
  record(): CgroupRecord;
  joinFiles(): string[];
  set(key: string, value: string): void;
  get(key: string): string;
  pids(): number[];
  stats(): Stats;
  freeze(): void;
  thaw(): void;
  freezerState(): "FROZEN" | "FREEZING" | "THAWED";
  kill(signal: number): void;
  remove(): void;
}
export interface CgroupDriver {
  readonly version: 1 | 2;
  create(req: { name: string; spec: ContainerSpec["cgroup"] }): ContainerCgroup;
  open(record: CgroupRecord): ContainerCgroup;
}

/** Reads the mounted hierarchies from mountinfo text. */
export function detectLayout(mountinfo = readFileSync("/proc/self/mountinfo", "utf8")) {
  const v1Controllers: Record<string, string> = {};
  let unified: string | undefined;
  for (const l of mountinfo.split("\n")) {
    const m = / (\S+) \S+(?: \S+:\S+)* - (cgroup2?) \S+ (\S+)/.exec(l);
    if (!m) continue;
    if (m[2] === "cgroup2") unified ??= m[1];
    else for (const o of m[3]!.split(",")) if (!["rw", "ro", "relatime", "nosuid", "nodev", "noexec", "clone_children"].includes(o) && !o.startsWith("release_agent")) v1Controllers[o] = m[1]!;
  }
  const nV1 = Object.keys(v1Controllers).filter((c) => !c.startsWith("name=")).length;
  const layout: CgroupLayout = nV1 === 0 ? "v2" : unified ? "hybrid" : "v1";
  return { layout, v1Controllers, unified };
}

function read(p: string): string {
  return readFileSync(p, "utf8");
}
function tryRead(p: string): string | undefined {
  try {
    return read(p);
  } catch {
    return undefined;
  }
}
function write(p: string, v: string, what: string): void {
  try {
    writeFileSync(p, v);
  } catch (e) {
    throw new LxtError(`set cgroup value \`${what}\` to \`${v}\`: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such cgroup file" : (e as Error).message}`, "check the key name and value against the kernel's cgroup documentation");
  }
}
/** The caller's cgroup in each hierarchy, from /proc/self/cgroup. */
function selfCgroups(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of read("/proc/self/cgroup").split("\n")) {
    const m = /^\d+:([^:]*):(.*)$/.exec(l);
    if (!m) continue;
    if (m[1] === "") out.unified = m[2]!;
    else for (const c of m[1]!.split(",")) out[c] = m[2]!;
  }
  return out;
}
function pidsIn(dir: string, file: string): number[] {
  const out: number[] = [];
  const walk = (d: string) => {
    for (const p of (tryRead(`${d}/${file}`) ?? "").split("\n")) if (p) out.push(Number(p));
    for (const e of safeDirs(d)) walk(`${d}/${e}`);
  };
  walk(dir);
  return [...new Set(out)];
}
function safeDirs(d: string): string[] {
  try {
    return readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}
function rmTree(d: string): void {
  if (!existsSync(d)) return;
  for (const e of safeDirs(d)) rmTree(`${d}/${e}`);
  rmdirSync(d);
}
function statNum(text: string | undefined, key: string): number | undefined {
  const m = text && new RegExp(`^${key} (\\d+)$`, "m").exec(text);
  return m ? Number(m[1]) : undefined;
}
function killAndRemove(dirs: string[], pids: () => number[]): void {
  for (let i = 0; i < 50; i++) {
    const left = pids();
    for (const p of left) {
      try {
        process.kill(p, 9);
      } catch {
        // gone
      }
    }
    try {
      for (const d of dirs) rmTree(d);
      return;
    } catch (e) {
      if (i === 49) throw new LxtError(`remove cgroup ${dirs[0]}: ${(e as Error).message}`, "processes may still be exiting; retry lxt stop");
      Bun.sleepSync(10);
    }
  }
}

const SAME_IN_BOTH = /^(cpuset\.|pids\.max$)/;

class V1 implements ContainerCgroup {
  constructor(private paths: Record<string, string>) {}
  record(): CgroupRecord {
    return { version: 1, paths: this.paths };
  }
  joinFiles() {
    return Object.values(this.paths).map((p) => `${p}/tasks`);
  }
  private file(key: string): string {
    const ctrl = key.split(".")[0]!;
    const dir = this.paths[ctrl] ?? (ctrl === "cpuacct" ? this.paths.cpu : undefined);
    if (!dir) throw new LxtError(`cgroup key \`${key}\`: no v1 controller \`${ctrl}\` is mounted on this host`, `mounted: ${Object.keys(this.paths).join(" ")}`);
    return `${dir}/${key}`;
  }
  set(key: string, value: string) {
    write(this.file(key), value, key);
  }
  get(key: string) {
    const f = this.file(key);
    const v = tryRead(f);
    if (v === undefined) throw new LxtError(`no cgroup file \`${key}\``);
    return v.trimEnd();
  }
  pids() {
    const any = this.paths.pids ?? this.paths.memory ?? Object.values(this.paths)[0]!;
    return pidsIn(any, "cgroup.procs");
  }
  stats(): Stats {
    const p = this.paths;
    const mem = p.memory;
    const blk = tryRead(`${p.blkio}/blkio.throttle.io_service_bytes`) ?? "";
    const sum = (op: string) => [...blk.matchAll(new RegExp(`^\\S+ ${op} (\\d+)$`, "gm"))].reduce((a, m) => a + Number(m[1]), 0);
    const memsw = Number(tryRead(`${mem}/memory.memsw.usage_in_bytes`) ?? NaN);
    const memory = Number(tryRead(`${mem}/memory.usage_in_bytes`) ?? NaN);
    return {
      cpuUsageNs: Number(tryRead(`${p.cpuacct ?? p.cpu}/cpuacct.usage`) ?? NaN) || 0,
      memoryBytes: Number.isNaN(memory) ? undefined : memory,
      memoryLimit: Number(tryRead(`${mem}/memory.limit_in_bytes`) ?? NaN) || undefined,
      kmemBytes: Number(tryRead(`${mem}/memory.kmem.usage_in_bytes`) ?? NaN) || undefined,
      swapBytes: Number.isNaN(memsw) || Number.isNaN(memory) ? undefined : Math.max(0, memsw - memory),
      blkioBytes: { read: sum("Read"), write: sum("Write") },
      pids: Number(tryRead(`${p.pids}/pids.current`) ?? NaN) || undefined,
    };
  }
  freeze() {
    this.set("freezer.state", "FROZEN");
  }
  thaw() {
    this.set("freezer.state", "THAWED");
  }
  freezerState() {
    return (tryRead(`${this.paths.freezer}/freezer.state`)?.trim() ?? "THAWED") as "FROZEN";
  }
  kill(signal: number) {
    for (const p of this.pids()) {
      try {
        process.kill(p, signal);
      } catch {
        // gone
      }
    }
  }
  remove() {
    if (this.paths.freezer && existsSync(this.paths.freezer)) tryWrite(`${this.paths.freezer}/freezer.state`, "THAWED");
    killAndRemove(Object.values(this.paths), () => this.pids());
  }
}

class V2 implements ContainerCgroup {
  constructor(private dir: string) {}
  record(): CgroupRecord {
    return { version: 2, paths: { unified: this.dir } };
  }
  joinFiles() {
    return [`${this.dir}/cgroup.procs`];
  }
  set(key: string, value: string) {
    write(`${this.dir}/${key}`, value, key);
  }
  get(key: string) {
    const v = tryRead(`${this.dir}/${key}`);
    if (v === undefined) throw new LxtError(`no cgroup file \`${key}\``);
    return v.trimEnd();
  }
  pids() {
    return pidsIn(this.dir, "cgroup.procs");
  }
  stats(): Stats {
    const cpu = tryRead(`${this.dir}/cpu.stat`);
    const io = tryRead(`${this.dir}/io.stat`) ?? "";
    const sum = (k: string) => [...io.matchAll(new RegExp(`${k}=(\\d+)`, "g"))].reduce((a, m) => a + Number(m[1]), 0);
    const n = (f: string) => {
      const v = tryRead(`${this.dir}/${f}`);
      return v === undefined || v.trim() === "max" ? undefined : Number(v);
    };
    const us = statNum(cpu, "usage_usec");
    return {
      cpuUsageNs: us === undefined ? undefined : us * 1000, memoryBytes: n("memory.current"), memoryLimit: n("memory.max"),
      kmemBytes: statNum(tryRead(`${this.dir}/memory.stat`), "kernel"), swapBytes: n("memory.swap.current"),
      blkioBytes: { read: sum("rbytes"), write: sum("wbytes") }, pids: n("pids.current"),
    };
  }
  freeze() {
    this.set("cgroup.freeze", "1");
  }
  thaw() {
    this.set("cgroup.freeze", "0");
  }
  freezerState() {
    const want = tryRead(`${this.dir}/cgroup.freeze`)?.trim();
    if (want !== "1") return "THAWED" as const;
    return /^frozen 1$/m.test(tryRead(`${this.dir}/cgroup.events`) ?? "") ? ("FROZEN" as const) : ("FREEZING" as const);
  }
  kill(signal: number) {
    if (signal === 9 && existsSync(`${this.dir}/cgroup.kill`)) return tryWrite(`${this.dir}/cgroup.kill`, "1");
    for (const p of this.pids()) {
      try {
        process.kill(p, signal);
      } catch {
        // gone
      }
    }
  }
  remove() {
    if (!existsSync(this.dir)) return;
    tryWrite(`${this.dir}/cgroup.freeze`, "0");
    killAndRemove([this.dir], () => this.pids());
  }
}

function tryWrite(p: string, v: string): void {
  try {
    writeFileSync(p, v);
  } catch {
    // best effort
  }
}

/** lxt.payload.NAME, or NAME-1, -2 ... when a live one of that name exists (as LXC does). */
function pickName(base: string, exists: (n: string) => "free" | "empty" | "busy"): string {
  for (let i = 0; i < 1000; i++) {
    const n = i ? `${base}-${i}` : base;
    const s = exists(n);
    if (s !== "busy") return n;
  }
  throw new LxtError(`no free cgroup name for ${base}`);
}

export function cgroupDriver(opts: { mountinfo?: string; force?: 1 | 2 } = {}): CgroupDriver {
  const d = detectLayout(opts.mountinfo);
  const version: 1 | 2 = opts.force ?? (d.layout === "v2" ? 2 : 1);
  return {
    version,
    open: (rec) => (rec.version === 1 ? new V1(rec.paths) : new V2(rec.paths.unified!)),
    create({ name, spec }) {
      const self = selfCgroups();
      const rel = spec.dirContainer ?? spec.dir;
      const baseName = rel ?? `lxt.payload.${name}`;
      if (version === 1) {
        const ctrls = Object.entries(d.v1Controllers).filter(([c]) => !c.startsWith("name="));
        const parent = (c: string, mnt: string) => `${mnt}${spec.relative ? (self[c] ?? "").replace(/\/$/, "") : ""}`;
        const chosen = pickName(baseName, (n) => {
          let st: "free" | "empty" | "busy" = "free";
          for (const [c, mnt] of ctrls) {
            const p = `${parent(c, mnt)}/${n}`;
            if (existsSync(p)) st = pidsIn(p, "cgroup.procs").length ? "busy" : st === "busy" ? st : "empty";
          }
          return st;
        });
        const paths: Record<string, string> = {};
        try {
          for (const [c, mnt] of ctrls) {
            const par = parent(c, mnt);
            const p = `${par}/${chosen}`;
            if (paths[c] === undefined && !Object.values(paths).includes(p)) {
              if (existsSync(p)) rmTree(p); // a leftover from a crashed run
              mkdirSync(p, { recursive: true });
              paths[c] = p;
              if (c === "cpuset") {
                write(`${p}/cpuset.cpus`, read(`${par}/cpuset.cpus`).trim(), "cpuset.cpus");
                write(`${p}/cpuset.mems`, read(`${par}/cpuset.mems`).trim(), "cpuset.mems");
              }
            }
          }
          const cg = new V1(paths);
          for (const { key, value } of spec.v1) cg.set(key, value);
          for (const { key, value } of spec.v2) {
            if (SAME_IN_BOTH.test(key)) cg.set(key, value);
            else throw new NotSupportedError(`lxc.cgroup2.${key}: this host uses cgroup v1 and lxt does not translate this key yet`, "write the v1 key (lxc.cgroup.*) instead");
          }
          return cg;
        } catch (e) {
          for (const p of Object.values(paths)) tryRmTree(p);
          throw e;
        }
      }
      const root = d.unified!;
      const par = `${root}${spec.relative || !rel ? (self.unified ?? "").replace(/\/$/, "") : ""}`;
      const chosen = pickName(baseName, (n) => (existsSync(`${par}/${n}`) ? (pidsIn(`${par}/${n}`, "cgroup.procs").length ? "busy" : "empty") : "free"));
      const dir = `${par}/${chosen}`;
      if (existsSync(dir)) rmTree(dir);
      mkdirSync(dir, { recursive: true });
      try {
        const avail = (tryRead(`${par}/cgroup.controllers`) ?? "").split(/\s+/).filter(Boolean);
        for (const c of avail) tryWrite(`${par}/cgroup.subtree_control`, `+${c}`);
        const cg = new V2(dir);
        for (const { key, value } of spec.v2) cg.set(key, value);
        for (const { key, value } of spec.v1) {
          if (SAME_IN_BOTH.test(key)) cg.set(key, value);
          else if (!key.startsWith("devices.")) throw new NotSupportedError(`lxc.cgroup.${key}: this host uses cgroup v2 and lxt does not translate this key yet`, "write the v2 key (lxc.cgroup2.*) instead");
        }
        return cg;
      } catch (e) {
        tryRmTree(dir);
        throw e;
      }
    },
  };
}

function tryRmTree(p: string): void {
  try {
    rmTree(p);
  } catch {
    // best effort
  }
}
