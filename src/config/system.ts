// The system config (lxc.system.conf(5)): /etc/lxt/lxt.conf for lxt,
// /etc/lxc/lxc.conf when invoked as lxc-*; LXT_CONF overrides the path.
import { readFileSync } from "node:fs";

const KEYS = ["lxc.default_config", "lxc.lxcpath", "lxc.bdev.lvm.vg", "lxc.bdev.lvm.thin_pool", "lxc.bdev.zfs.root", "lxc.cgroup.use", "lxc.cgroup.pattern"];

export function systemConfigKeys(): string[] {
  return KEYS;
}

function defaults(mode: "lxt" | "lxc"): Record<string, string> {
  return {
    "lxc.default_config": mode === "lxc" ? "/etc/lxc/default.conf" : "/etc/lxt/default.conf",
    "lxc.lxcpath": mode === "lxc" ? "/var/lib/lxc" : "/var/lib/lxt",
    "lxc.bdev.lvm.vg": "lxc",
    "lxc.bdev.lvm.thin_pool": "lxc",
    "lxc.bdev.zfs.root": "lxc",
    "lxc.cgroup.use": "",
    "lxc.cgroup.pattern": "",
  };
}

export function systemConfigItem(key: string, mode: "lxt" | "lxc"): string | undefined {
  const file = process.env.LXT_CONF ?? (mode === "lxc" ? "/etc/lxc/lxc.conf" : "/etc/lxt/lxt.conf");
  let v: string | undefined;
  try {
    for (const l of readFileSync(file, "utf8").split("\n")) {
      const m = /^\s*([^#=\s][^=]*?)\s*=\s*(.*?)\s*$/.exec(l);
      if (m && m[1] === key) v = m[2];
    }
  } catch {
    // no system config: defaults
  }
  return v ?? defaults(mode)[key];
}
