// The cgroup layer's public types: one driver interface, a v1 and a v2
// implementation behind it (v1.ts, v2.ts), chosen at run time (index.ts).
import type { ContainerSpec } from "../spec/types.ts";

export type CgroupLayout = "v1" | "hybrid" | "v2";
export type CgroupSpec = ContainerSpec["cgroup"];

/** One mounted hierarchy: v1 (one or more controllers, or a named one like name=systemd) or the unified one. */
export interface Hierarchy {
  /** where it is mounted */
  mountpoint: string;
  /** v1 controller names ("cpu", "cpuacct", "name=systemd"); empty for the unified hierarchy */
  controllers: string[];
  /** the cgroup path shown at the mountpoint (mountinfo's root field; "/" for a whole-hierarchy mount) */
  root: string;
  unified: boolean;
}

export interface LayoutInfo {
  layout: CgroupLayout;
  /** v1 controller -> mountpoint (co-mounted controllers share one) */
  v1Controllers: Record<string, string>;
  /** mountpoint of the cgroup2 hierarchy */
  unified?: string;
  /** controllers available at the unified mountpoint (its cgroup.controllers) */
  unifiedControllers: string[];
  hierarchies: Hierarchy[];
}

/** What start saves in the run dir (cgroup.json) and open() takes back. JSON-serialisable. */
export interface CgroupRecord {
  version: 1 | 2;
  /** v1: controller -> the container cgroup's directory in that hierarchy; v2: { unified: dir } */
  paths: Record<string, string>;
  /** lxc.cgroup.dir.container.inner: processes join this subdirectory of each path; limits stay on the path itself */
  inner?: string;
}

export interface CgroupStats {
  cpuUsageNs?: number;
  /** user and system CPU time (v1 cpuacct.stat ticks, v2 cpu.stat usec), in ns */
  cpuUserNs?: number;
  cpuSystemNs?: number;
  memoryBytes?: number;
  memoryLimit?: number;
  kmemBytes?: number;
  swapBytes?: number;
  blkioBytes?: { read: number; write: number };
  pids?: number;
}
/** @deprecated name kept for early callers; use CgroupStats */
export type Stats = CgroupStats;

export type FreezerState = "FROZEN" | "FREEZING" | "THAWED";

export interface ContainerCgroup {
  readonly version: 1 | 2;
  record(): CgroupRecord;
  /** files the container's init writes "0" to before exec to join (v1: each hierarchy's `tasks`; v2: cgroup.procs) */
  joinFiles(): string[];
  /** v2 only: the directory to open for clone3 CLONE_INTO_CGROUP */
  unifiedDir?(): string;
  /** "memory.limit_in_bytes" style keys (no lxc.cgroup prefix) */
  set(key: string, value: string): void;
  get(key: string): string;
  /** every process in it, recursively */
  pids(): number[];
  stats(): CgroupStats;
  /** freezes and waits until the kernel reports FROZEN */
  freeze(): void;
  thaw(): void;
  freezerState(): FreezerState;
  /** signals every process in it */
  kill(signal: number): void;
  /** kills what is left, removes the directories bottom-up; idempotent */
  remove(): void;
}

export interface CreateRequest {
  /** container name: the cgroup is lxt.payload.NAME unless the spec names a dir */
  name: string;
  spec: CgroupSpec;
}

export interface CgroupDriver {
  readonly version: 1 | 2;
  create(req: CreateRequest): ContainerCgroup;
  open(record: CgroupRecord): ContainerCgroup;
}
