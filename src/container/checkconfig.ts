// lxt checkconfig: can this host run containers? Like lxc-checkconfig, it
// reads the kernel config (/proc/config.gz, /boot/config-RELEASE, or $CONFIG)
// and adds what only the running system can tell: mounted cgroup
// hierarchies, user namespace limits, setuid id-map helpers, lxt's own shim.
import { accessSync, constants, existsSync, readFileSync, statSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { release } from "node:os";

export type Level = "required" | "optional";
export interface Check {
  section: string;
  feature: string;
  ok: boolean | undefined;
  level: Level;
  detail?: string;
}

function kernelConfig(): { text?: string; source?: string } {
  const env = process.env.CONFIG;
  const cands = env ? [env] : ["/proc/config.gz", `/boot/config-${release()}`, `/lib/modules/${release()}/build/.config`];
  for (const c of cands) {
    if (!existsSync(c)) continue;
    try {
      const raw = readFileSync(c);
      return { text: c.endsWith(".gz") ? gunzipSync(raw).toString() : raw.toString(), source: c };
    } catch {
      // unreadable: try the next one
    }
  }
  return {};
}

export function runChecks(shimPath?: string): { checks: Check[]; configSource?: string } {
  const kc = kernelConfig();
  const opt = (name: string): boolean | undefined => {
    if (!kc.text) return undefined;
    return new RegExp(`^CONFIG_${name}=[ym]`, "m").test(kc.text);
  };
  const checks: Check[] = [];
  const add = (section: string, feature: string, ok: boolean | undefined, level: Level, detail?: string) =>
    checks.push({ section, feature, ok, level, detail });

  const ns = (f: string) => existsSync(`/proc/self/ns/${f}`);
  add("Namespaces", "Namespaces", opt("NAMESPACES") ?? ns("mnt"), "required");
  add("Namespaces", "Utsname namespace", opt("UTS_NS") ?? ns("uts"), "required");
  add("Namespaces", "Ipc namespace", opt("IPC_NS") ?? ns("ipc"), "required");
  add("Namespaces", "Pid namespace", opt("PID_NS") ?? ns("pid"), "required");
  add("Namespaces", "Network namespace", opt("NET_NS") ?? ns("net"), "required");
  add("Namespaces", "Cgroup namespace", opt("CGROUP_NS") ?? ns("cgroup"), "optional");
  add("Namespaces", "Time namespace", opt("TIME_NS") ?? ns("time"), "optional");
  const maxUserns = (() => {
    try {
      return Number(readFileSync("/proc/sys/user/max_user_namespaces", "utf8"));
    } catch {
      return undefined;
    }
  })();
  add("Namespaces", "User namespace", (opt("USER_NS") ?? ns("user")) && maxUserns !== 0, "optional",
    maxUserns === 0 ? "user.max_user_namespaces is 0" : undefined);

  const mounts = readFileSync("/proc/self/mountinfo", "utf8");
  const v1 = [...mounts.matchAll(/ - cgroup \S+ (\S+)/g)].map((m) => m[1]!);
  const v2 = / - cgroup2 /.test(mounts);
  add("Control groups", "Control groups", opt("CGROUPS") ?? (v1.length > 0 || v2), "required");
  add("Control groups", "Cgroup v1 mount", v1.length > 0, "optional", v1.length ? `controllers: ${[...new Set(v1.flatMap((o) => o.split(",")).filter((o) => !["rw", "ro", "relatime", "nosuid", "nodev", "noexec"].includes(o)))].join(" ")}` : undefined);
  add("Control groups", "Cgroup v2 mount", v2, "optional");
  add("Control groups", "Cgroup device", opt("CGROUP_DEVICE"), "optional");
  add("Control groups", "Cgroup sched", opt("CGROUP_SCHED"), "optional");
  add("Control groups", "Cgroup cpu account", opt("CGROUP_CPUACCT"), "optional");
  add("Control groups", "Cgroup memory controller", opt("MEMCG"), "optional");
  add("Control groups", "Cgroup cpuset", opt("CPUSETS"), "optional");
  add("Control groups", "Cgroup pids", opt("CGROUP_PIDS"), "optional");
  add("Control groups", "Cgroup freezer", opt("CGROUP_FREEZER"), "optional");

  add("Misc", "Veth pair device", opt("VETH"), "optional");
  add("Misc", "Macvlan", opt("MACVLAN"), "optional");
  add("Misc", "Vlan", opt("VLAN_8021Q"), "optional");
  add("Misc", "Bridges", opt("BRIDGE"), "optional");
  add("Misc", "Advanced netfilter", opt("NETFILTER_ADVANCED"), "optional");
  add("Misc", "nftables NAT", opt("NFT_NAT"), "optional");
  add("Misc", "Overlay filesystem", opt("OVERLAY_FS"), "optional");
  add("Misc", "File capabilities", true, "optional");
  add("Misc", "Seccomp filter", opt("SECCOMP_FILTER"), "optional");
  add("Misc", "Devpts multiple instances", opt("DEVPTS_MULTIPLE_INSTANCES") ?? true, "required");
  const setuid = (p: string) => {
    try {
      return (statSync(p).mode & 0o4000) !== 0;
    } catch {
      return false;
    }
  };
  add("Misc", "newuidmap/newgidmap setuid", setuid("/usr/bin/newuidmap") && setuid("/usr/bin/newgidmap"), "optional",
    "needed for unprivileged containers (apt-get install uidmap)");
  if (shimPath) {
    let ok = true;
    try {
      accessSync(shimPath, constants.X_OK);
    } catch {
      ok = false;
    }
    add("Misc", "lxt shim", ok, "required", ok ? shimPath : `${shimPath} missing: run npm install`);
  }

  add("Checkpoint/Restore", "checkpoint restore", opt("CHECKPOINT_RESTORE"), "optional");
  add("Checkpoint/Restore", "CONFIG_FHANDLE", opt("FHANDLE"), "optional");
  add("Checkpoint/Restore", "CONFIG_EVENTFD", opt("EVENTFD"), "optional");
  add("Checkpoint/Restore", "CONFIG_EPOLL", opt("EPOLL"), "optional");
  add("Checkpoint/Restore", "CONFIG_UNIX_DIAG", opt("UNIX_DIAG"), "optional");
  add("Checkpoint/Restore", "CONFIG_INET_DIAG", opt("INET_DIAG"), "optional");
  add("Checkpoint/Restore", "CONFIG_PACKET_DIAG", opt("PACKET_DIAG"), "optional");
  add("Checkpoint/Restore", "CONFIG_NETLINK_DIAG", opt("NETLINK_DIAG"), "optional");
  add("Checkpoint/Restore", "criu", ["/usr/sbin/criu", "/usr/bin/criu"].some(existsSync), "optional");
  return { checks, configSource: kc.source };
}
