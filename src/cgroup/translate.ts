// Settings written for the other cgroup version (lxc.cgroup.* on a v2 host,
// lxc.cgroup2.* on a v1 host). For now only keys whose file is the same in
// both versions pass; the rest fail by name. The later resource-control work
// grows this table (memory.limit_in_bytes <-> memory.max, cpu.shares <->
// cpu.weight, devices.* -> eBPF program, ...).
import type { KeyValue } from "../spec/types.ts";
import { NotSupportedError } from "../util/errors.ts";

/** Same file name, same value format, in v1 and v2. */
function identical(key: string): boolean {
  return key.startsWith("cpuset.") || key === "pids.max";
}

function configKey(version: 1 | 2, key: string): string {
  return `${version === 1 ? "lxc.cgroup" : "lxc.cgroup2"}.${key}`;
}

/**
 * Settings for a host of version `to`, made from keys written for version
 * `from` (their config prefix). Throws NotSupportedError on the first key that
 * cannot be carried over.
 */
export function translateSettings(kvs: readonly KeyValue[], from: 1 | 2, to: 1 | 2): KeyValue[] {
  if (from === to) return [...kvs];
  return kvs.map((kv) => {
    if (identical(kv.key)) return kv;
    const devices = kv.key.startsWith("devices.");
    throw new NotSupportedError(
      `apply \`${configKey(from, kv.key)} = ${kv.value}\`: this host uses cgroup v${to} and lxt cannot translate this key yet`,
      devices
        ? "device rules on cgroup v2 need the eBPF device controller, which lxt does not have yet; remove the lxc.cgroup.devices.* lines to start without device rules"
        : `write the cgroup v${to} key instead (${to === 2 ? "lxc.cgroup2.*" : "lxc.cgroup.*"})`,
    );
  });
}
