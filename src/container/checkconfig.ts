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
  // options some kernels no longer have: what the running kernel offers decides
  add("Namespaces", "Cgroup namespace", ns("cgroup") || opt("CGROUP_NS"), "optional");
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
  const [kmaj, kmin] = readFileSync("/proc/sys/kernel/osrelease", "utf8").split(".").map(Number);
  // always on since Linux 4.7 (the option is gone)
  add("Misc", "Devpts multiple instances", kmaj! > 4 || (kmaj === 4 && kmin! >= 7) || opt("DEVPTS_MULTIPLE_INSTANCES"), "required");
  const setuid = (p: string) => {
    try {
      return (statSync(p).mode & 0o4000) !== 0;
    } catch {
      return false;
    }
  };
  add("Misc", "newuidmap/newgidmap setuid", setuid("/usr/bin/newuidmap") && setuid("/usr/bin/newgidmap"), "optional",
    "needed for unprivileged containers (apt-get install uidmap)");
  // an ordinary user's unprivileged containers: maps for them, and user namespaces they may make
  const me = process.env.SUDO_USER ?? process.env.USER ?? "root";
  const sub = (f: string) => {
    try {
      return readFileSync(f, "utf8").split("\n").some((l) => l.startsWith(`${me}:`));
    } catch {
      return false;
    }
  };
  add("Misc", `subuid/subgid ranges for ${me}`, sub("/etc/subuid") && sub("/etc/subgid"), "optional", "unprivileged containers map their ids into these (usermod --add-subuids/--add-subgids)");
  const maxns = (() => {
    try {
      return Number(readFileSync("/proc/sys/user/max_user_namespaces", "utf8"));
    } catch {
      return undefined;
    }
  })();
  add("Misc", "User namespaces for ordinary users", maxns === undefined ? undefined : maxns > 0, "optional", maxns === 0 ? "user.max_user_namespaces is 0" : undefined);
  // cgroups for an ordinary user's containers: delegated by root (lxt delegate) on v1
  if (me !== "root") {
    const uid = Bun.spawnSync(["id", "-u", "--", me]).stdout.toString().trim();
    const delegated = /^\d+$/.test(uid) && existsSync(`/sys/fs/cgroup/pids/lxt.user.${uid}/tasks`);
    add("Misc", `cgroups delegated to ${me}`, existsSync("/sys/fs/cgroup/pids/tasks") ? delegated : undefined, "optional",
      delegated ? `/sys/fs/cgroup/*/lxt.user.${uid}` : `limits and accounting for ${me}'s containers: as root, lxt delegate ${me}`);
  }
  add("Misc", "lxt-user-nic setuid", shimPath ? setuid(shimPath.replace(/lxt-shim$/, "lxt-user-nic")) : undefined, "optional", "veths for unprivileged containers (built setuid by npm install as root)");
  if (shimPath) {
    let ok = true;
    try {
      accessSync(shimPath, constants.X_OK);
    } catch {
      ok = false;
    }
    add("Misc", "lxt shim", ok, "required", ok ? shimPath : `${shimPath} missing: run npm install`);
  }

  add("Security", "AppArmor", existsSync("/sys/module/apparmor/parameters/enabled") && readFileSync("/sys/module/apparmor/parameters/enabled", "utf8").trim() === "Y", "optional", "not present: lxc.apparmor.profile is announced and not applied");
  add("Security", "SELinux", existsSync("/sys/fs/selinux/enforce"), "optional", "not present: lxc.selinux.context is announced and not applied");
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
