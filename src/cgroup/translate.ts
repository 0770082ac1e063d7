// Settings written for the other cgroup version (lxc.cgroup.* on a v2 host,
// lxc.cgroup2.* on a v1 host), translated the way runc and crun convert them
// and said so in the log; what has no translation is refused by name.
//
//   v1                                     v2
//   cpu.shares (2..262144)                 cpu.weight (1..10000)
//   cpu.cfs_quota_us + cpu.cfs_period_us   cpu.max "QUOTA|max PERIOD"
//   memory.limit_in_bytes                  memory.max
//   memory.memsw.limit_in_bytes            memory.swap.max (= memsw - memory)
//   memory.soft_limit_in_bytes             memory.low
//   blkio.weight (10..1000)                io.weight (1..10000)
//   cpuset.*, pids.max                     the same
// devices.* never reaches here on v2: start compiles it to an eBPF program.
import type { KeyValue } from "../spec/types.ts";
import { LxtError, NotSupportedError } from "../util/errors.ts";
import { log } from "../util/log.ts";

const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Bytes from what users write (512M, 1G, 1048576), -1 for unlimited (-1 or max). */
export function parseBytes(v: string, key: string): number {
  const t = v.trim().toLowerCase();
  if (t === "-1" || t === "max") return -1;
  const m = /^(\d+)\s*([kmgt]?)(i?b)?$/.exec(t);
  if (!m) throw new LxtError(`\`${key} = ${v}\`: not a size`, "write bytes, optionally with K, M, G or T (512M), or -1/max for no limit");
  return Number(m[1]) * UNITS[m[2]!]!;
}

function int(v: string, key: string): number {
  const t = v.trim();
  if (!/^-?\d+$/.test(t)) throw new LxtError(`\`${key} = ${v}\`: not a number`);
  return Number(t);
}

const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, n));
/** runc's formulas (linear maps between the two ranges). */
export const sharesToWeight = (s: number) => clamp(1 + Math.floor(((clamp(s, 2, 262144) - 2) * 9999) / 262142), 1, 10000);
export const weightToShares = (w: number) => clamp(2 + Math.floor(((clamp(w, 1, 10000) - 1) * 262142) / 9999), 2, 262144);
export const blkioToIoWeight = (w: number) => clamp(1 + Math.floor(((clamp(w, 10, 1000) - 10) * 9999) / 990), 1, 10000);
export const ioToBlkioWeight = (w: number) => clamp(10 + Math.floor(((clamp(w, 1, 10000) - 1) * 990) / 9999), 10, 1000);

function configKey(version: 1 | 2, key: string): string {
  return `${version === 1 ? "lxc.cgroup" : "lxc.cgroup2"}.${key}`;
}

function refuse(kv: KeyValue, from: 1 | 2, to: 1 | 2, why?: string): never {
  throw new NotSupportedError(
    `apply \`${configKey(from, kv.key)} = ${kv.value}\`: this host uses cgroup v${to}${why ? `; ${why}` : " and this key has no cgroup v" + to + " counterpart"}`,
    kv.key.startsWith("devices.")
      ? "device rules are applied at start (an eBPF program on v2); a running container's rules cannot be changed on v2 yet"
      : `write the cgroup v${to} key instead (${to === 2 ? "lxc.cgroup2.*" : "lxc.cgroup.*"})`,
  );
}

function v1ToV2(kvs: readonly KeyValue[]): KeyValue[] {
  const out: KeyValue[] = [];
  const last = (k: string) => [...kvs].reverse().find((kv) => kv.key === k);
  const mem = last("memory.limit_in_bytes");
  const quota = last("cpu.cfs_quota_us");
  const period = last("cpu.cfs_period_us");
  let cpuMaxDone = false;
  for (const kv of kvs) {
    const k = kv.key;
    if (k.startsWith("cpuset.") || k === "pids.max") out.push(kv);
    else if (k === "cpu.shares") out.push({ key: "cpu.weight", value: String(sharesToWeight(int(kv.value, k))) });
    else if (k === "cpu.cfs_quota_us" || k === "cpu.cfs_period_us") {
      if (cpuMaxDone) continue;
      cpuMaxDone = true;
      const q = quota ? int(quota.value, quota.key) : -1;
      const p = period ? int(period.value, period.key) : 100000;
      out.push({ key: "cpu.max", value: `${q < 0 ? "max" : q} ${p}` });
    } else if (k === "memory.limit_in_bytes") {
      const b = parseBytes(kv.value, k);
      out.push({ key: "memory.max", value: b < 0 ? "max" : String(b) });
    } else if (k === "memory.soft_limit_in_bytes") {
      const b = parseBytes(kv.value, k);
      out.push({ key: "memory.low", value: b < 0 ? "max" : String(b) });
    } else if (k === "memory.memsw.limit_in_bytes") {
      const sw = parseBytes(kv.value, k);
      if (sw < 0) {
        out.push({ key: "memory.swap.max", value: "max" });
        continue;
      }
      const m = mem ? parseBytes(mem.value, mem.key) : undefined;
      if (m === undefined || m < 0) refuse(kv, 1, 2, "memory.swap.max is memsw minus the memory limit, and no memory.limit_in_bytes is set");
      if (sw < m) throw new LxtError(`\`lxc.cgroup.${k} = ${kv.value}\` is below memory.limit_in_bytes (${mem!.value})`, "memsw counts memory plus swap: it must be at least the memory limit");
      out.push({ key: "memory.swap.max", value: String(sw - m) });
    } else if (k === "blkio.weight") out.push({ key: "io.weight", value: `default ${blkioToIoWeight(int(kv.value, k))}` });
    else refuse(kv, 1, 2);
  }
  return out;
}

function v2ToV1(kvs: readonly KeyValue[]): KeyValue[] {
  const out: KeyValue[] = [];
  const mem = [...kvs].reverse().find((kv) => kv.key === "memory.max");
  for (const kv of kvs) {
    const k = kv.key;
    if (k.startsWith("cpuset.") || k === "pids.max") out.push(kv);
    else if (k === "cpu.weight") out.push({ key: "cpu.shares", value: String(weightToShares(int(kv.value, k))) });
    else if (k === "cpu.max") {
      const [q, p] = kv.value.trim().split(/\s+/);
      if (!q || (q !== "max" && !/^\d+$/.test(q)) || (p !== undefined && !/^\d+$/.test(p))) throw new LxtError(`\`lxc.cgroup2.cpu.max = ${kv.value}\`: write \`QUOTA PERIOD\` or \`max PERIOD\``);
      if (p) out.push({ key: "cpu.cfs_period_us", value: p });
      out.push({ key: "cpu.cfs_quota_us", value: q === "max" ? "-1" : q });
    } else if (k === "memory.max") {
      const b = parseBytes(kv.value, k);
      out.push({ key: "memory.limit_in_bytes", value: String(b) });
    } else if (k === "memory.low") out.push({ key: "memory.soft_limit_in_bytes", value: String(parseBytes(kv.value, k)) });
    else if (k === "memory.swap.max") {
      const sw = parseBytes(kv.value, k);
      const m = mem ? parseBytes(mem.value, mem.key) : undefined;
      if (sw < 0) out.push({ key: "memory.memsw.limit_in_bytes", value: "-1" });
      else if (m === undefined || m < 0) refuse(kv, 2, 1, "memory.memsw.limit_in_bytes is memory plus swap, and no memory.max is set");
      else out.push({ key: "memory.memsw.limit_in_bytes", value: String(m + sw) });
    } else if (k === "io.weight") {
      const w = /^(?:default\s+)?(\d+)$/.exec(kv.value.trim());
      if (!w) refuse(kv, 2, 1, "only a default io.weight translates to blkio.weight");
      out.push({ key: "blkio.weight", value: String(ioToBlkioWeight(Number(w[1]))) });
    } else refuse(kv, 2, 1);
  }
  return out;
}

/**
 * Settings for a host of version `to`, made from keys written for version
 * `from` (their config prefix). Each translation is logged; the first key that
 * cannot be carried over throws NotSupportedError.
 */
export function translateSettings(kvs: readonly KeyValue[], from: 1 | 2, to: 1 | 2): KeyValue[] {
  if (from === to || !kvs.length) return [...kvs];
  const out = from === 1 ? v1ToV2(kvs) : v2ToV1(kvs);
  const src = kvs.map((kv) => `${configKey(from, kv.key)} = ${kv.value}`).join(", ");
  const dst = out.map((kv) => `${kv.key} = ${kv.value}`).join(", ");
  log("NOTICE", "cgroup", `translated for this cgroup v${to} host: ${src} -> ${dst}`);
  return out;
}
