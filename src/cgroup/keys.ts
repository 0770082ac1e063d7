// Cgroup keys ("memory.limit_in_bytes"): validation, the controller they
// belong to, and the order settings are written in.
import { LxtError } from "../util/errors.ts";
import type { KeyValue } from "../spec/types.ts";

/** controller.file, letters, digits, '_', '-', '.'; never a path */
const KEY = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_-]+)+$/;

export function checkKey(key: string, action: string): void {
  if (!KEY.test(key))
    throw new LxtError(`${action} \`${key}\`: not a cgroup key`, "keys look like CONTROLLER.FILE, e.g. memory.limit_in_bytes or pids.max");
}

/** "memory.limit_in_bytes" -> "memory" */
export function controllerOf(key: string): string {
  return key.slice(0, key.indexOf("."));
}

/**
 * The order LXC writes lxc.cgroup.* settings in: config order, except that
 * memory.memsw.limit_in_bytes goes after memory.limit_in_bytes (the kernel
 * refuses a swap limit below the memory limit, whatever order the file has).
 */
export function settingOrder(kvs: readonly KeyValue[]): KeyValue[] {
  const memsw = kvs.filter((kv) => kv.key === "memory.memsw.limit_in_bytes");
  const lastMem = kvs.map((kv) => kv.key).lastIndexOf("memory.limit_in_bytes");
  if (!memsw.length || lastMem < 0) return [...kvs];
  const out: KeyValue[] = [];
  kvs.forEach((kv, i) => {
    if (kv.key !== "memory.memsw.limit_in_bytes") out.push(kv);
    if (i === lastMem) out.push(...memsw);
  });
  return out;
}
