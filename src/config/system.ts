// The system config (lxc.system.conf(5)): /etc/lxt/lxt.conf for lxt,
// /etc/lxc/lxc.conf when invoked as lxc-*; for an ordinary user
// ~/.config/lxt/lxt.conf (~/.config/lxc/lxc.conf), with the containers under
// ~/.local/share, as LXC has it. LXT_CONF overrides the path.
import { readFileSync } from "node:fs";

const KEYS = ["lxc.default_config", "lxc.lxcpath", "lxc.bdev.lvm.vg", "lxc.bdev.lvm.thin_pool", "lxc.bdev.zfs.root", "lxc.cgroup.use", "lxc.cgroup.pattern"];

export function systemConfigKeys(): string[] {
  return KEYS;
}

const user = () => (process.getuid?.() ?? 0) !== 0;
const home = () => process.env.HOME ?? "/";

function defaults(mode: "lxt" | "lxc"): Record<string, string> {
  return {
    "lxc.default_config": user() ? `${home()}/.config/${mode}/default.conf` : `/etc/${mode}/default.conf`,
    "lxc.lxcpath": user() ? `${home()}/.local/share/${mode}` : `/var/lib/${mode}`,
    "lxc.bdev.lvm.vg": "lxc",
    "lxc.bdev.lvm.thin_pool": "lxc",
    "lxc.bdev.zfs.root": "lxc",
    "lxc.cgroup.use": "",
    "lxc.cgroup.pattern": "",
  };
}

export function systemConfigItem(key: string, mode: "lxt" | "lxc"): string | undefined {
  const file = process.env.LXT_CONF ?? (user() ? `${home()}/.config/${mode}/${mode}.conf` : `/etc/${mode}/${mode}.conf`);
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
