// Every LXC config key lxt knows: its kind (scalar: last line wins; list:
// lines accumulate, an empty value clears) and its validator. Legacy pre-2.1
// keys map to modern names. Source: ../shared/reference/lxc-config-keys.md.
import { LEVELS, parseLevel } from "../util/log.ts";

export type Validator = (v: string) => string | undefined; // an error message, or undefined when valid

const bool: Validator = (v) => (v === "0" || v === "1" ? undefined : "must be 0 or 1");
const uint: Validator = (v) => (/^\d+$/.test(v) ? undefined : "must be a non-negative integer");
const any: Validator = () => undefined;
const oneOf = (...vals: string[]): Validator => (v) => (vals.includes(v) ? undefined : `must be one of: ${vals.join(", ")}`);
const absPath: Validator = (v) => (v === "" || v.startsWith("/") ? undefined : "must be an absolute path");

export const SIGNALS: Record<string, number> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGBUS: 7, SIGFPE: 8, SIGKILL: 9, SIGUSR1: 10,
  SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15, SIGSTKFLT: 16, SIGCHLD: 17, SIGCONT: 18, SIGSTOP: 19,
  SIGTSTP: 20, SIGTTIN: 21, SIGTTOU: 22, SIGURG: 23, SIGXCPU: 24, SIGXFSZ: 25, SIGVTALRM: 26, SIGPROF: 27, SIGWINCH: 28,
  SIGIO: 29, SIGPWR: 30, SIGSYS: 31,
};

/** LXC's sig_parse: a number, or a SIG-prefixed name (any case), or SIGRTMIN+n / SIGRTMAX-n. */
export function parseSignalValue(v: string): number | undefined {
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    return n >= 1 && n <= 64 ? n : undefined;
  }
  const u = v.toUpperCase();
  const rt = /^SIGRT(MIN|MAX)(?:([+-])(\d+))?$/.exec(u);
  if (rt) {
    const n = (rt[1] === "MIN" ? 34 : 64) + (rt[2] === "-" ? -1 : 1) * Number(rt[3] ?? 0);
    return n >= 34 && n <= 64 ? n : undefined;
  }
  return SIGNALS[u];
}
const signal: Validator = (v) => (parseSignalValue(v) === undefined ? "must be a signal number or a SIG-prefixed name (SIGPWR, SIGRTMIN+3)" : undefined);

export const CAPS = [
  "chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid", "setpcap", "linux_immutable",
  "net_bind_service", "net_broadcast", "net_admin", "net_raw", "ipc_lock", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot",
  "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time", "sys_tty_config", "mknod", "lease",
  "audit_write", "audit_control", "setfcap", "mac_override", "mac_admin", "syslog", "wake_alarm", "block_suspend", "audit_read",
  "perfmon", "bpf", "checkpoint_restore",
];
const caps = (allowNone: boolean): Validator => (v) => {
  for (const c of v.split(/\s+/).filter(Boolean)) {
    const n = c.toLowerCase().replace(/^cap_/, "");
    if (CAPS.includes(n) || /^\d+$/.test(n) || (allowNone && n === "none") || n === "all") continue;
    return `invalid capability \`${c}\``;
  }
  return undefined;
};

const MOUNT_AUTO = /^(proc(:(mixed|rw))?|sys(:(ro|mixed|rw))?|cgroup(:(mixed|ro|rw))?(:force)?|cgroup:force|cgroup-full(:(mixed|ro|rw))?(:force)?|cgroup2(:ro)?(:force)?|shmounts:[^:]+(:[^:]+)?)$/;
const mountAuto: Validator = (v) => {
  for (const t of v.split(/\s+/).filter(Boolean)) if (!MOUNT_AUTO.test(t)) return `Invalid filesystem to automount "${t}"`;
  return undefined;
};
const NS = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];
const nsList: Validator = (v) => {
  for (const t of v.split(/\s+/).filter(Boolean)) if (!NS.includes(t)) return `unknown namespace \`${t}\` (use ${NS.join(" ")})`;
  return undefined;
};
const idmap: Validator = (v) => {
  const f = v.trim().split(/\s+/);
  if (f[0] !== "u" && f[0] !== "g") return `Invalid id mapping type: ${f[0]}`;
  if (f.length !== 4 || !f.slice(1).every((x) => /^\d+$/.test(x))) return "Failed to parse id mappings: use `u|g NSID HOSTID RANGE`";
  return undefined;
};
export const ARCHES: Record<string, string> = {
  arm: "armv7l", armel: "armv7l", armhf: "armv7l", armv7l: "armv7l", athlon: "i686", i386: "i686", i486: "i686", i586: "i686",
  i686: "i686", linux32: "i686", mips: "mips", mipsel: "mips", ppc: "ppc", powerpc: "ppc", x32: "i686", x86: "i686",
  aarch64: "aarch64", amd64: "x86_64", arm64: "aarch64", linux64: "x86_64", loongarch64: "loongarch64", loong64: "loongarch64",
  mips64: "mips64", mips64el: "mips64", ppc64: "ppc64", ppc64el: "ppc64le", ppc64le: "ppc64le", powerpc64: "ppc64",
  riscv64: "riscv64", s390x: "s390x", x86_64: "x86_64",
};
const arch: Validator = (v) => (ARCHES[v] ? undefined : `Unsupported personality "${v}"`);
const logLevel: Validator = (v) => (parseLevel(v) !== undefined ? undefined : `must be 0-8 or one of ${LEVELS.join(" ")}`);
const size: Validator = (v) => (/^\d+\s*([kmg]b?)?$/i.test(v) || v === "auto" ? undefined : "must be a size like 512, 128KB, 1MB");
const timeOffset: Validator = (v) => (/^-?\d+(h|m|s|ms|us|ns)$/.test(v) ? undefined : "must be [-]N followed by h, m, s, ms, us or ns");
const rlimit: Validator = (v) => (/^(\d+|unlimited)(:(\d+|unlimited))?$/.test(v) ? undefined : "must be SOFT[:HARD], each a number or `unlimited`");
const envVal: Validator = (v) => (/^[A-Za-z_][A-Za-z0-9_]*(=.*)?$/.test(v) ? undefined : "must be VAR=VALUE or VAR");
const gids: Validator = (v) => (/^\d+(,\d+)*$/.test(v) ? undefined : "must be comma-separated group ids");

function ipv4Addr(v: string): string | undefined {
  const [a, b] = v.trim().split(/\s+/);
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)(?:\/(\d+))?$/.exec(a ?? "");
  if (!m || m.slice(1, 5).some((x) => Number(x) > 255) || (m[5] !== undefined && Number(m[5]) > 32)) return `Invalid ipv4 address "${v}"`;
  if (b && !/^\d+\.\d+\.\d+\.\d+$/.test(b)) return `Invalid ipv4 broadcast address "${b}"`;
  return undefined;
}
const ipv6Re = /^[0-9a-fA-F:]+(?:\/(\d+))?$/;
function ipv6Addr(v: string): string | undefined {
  const m = ipv6Re.exec(v.trim());
  if (!m || !v.includes(":") || (m[1] !== undefined && Number(m[1]) > 128)) return `Invalid ipv6 address "${v}"`;
  return undefined;
}
const gw4: Validator = (v) => (v === "auto" || v === "dev" || /^\d+\.\d+\.\d+\.\d+$/.test(v) ? undefined : `Invalid ipv4 gateway "${v}"`);
const gw6: Validator = (v) => (v === "auto" || v === "dev" || (v.includes(":") && /^[0-9a-fA-F:]+$/.test(v)) ? undefined : `Invalid ipv6 gateway "${v}"`);

export interface KeyDef {
  list: boolean;
  validate: Validator;
}
const S = (validate: Validator = any): KeyDef => ({ list: false, validate });
/** mount options, and LXC's idmap=container (lxt has no idmap=PATH-to-a-user-namespace) */
const rootfsOptions: Validator = (v) => {
  const id = v.split(",").find((o) => o.startsWith("idmap="));
  return id === undefined || id === "idmap=container" ? undefined : `\`${id}\`: lxt supports idmap=container (the rootfs idmapped through the container's own user namespace)`;
};
const L = (validate: Validator = any): KeyDef => ({ list: true, validate });

export const KEYS: Record<string, KeyDef> = {
  "lxc.uts.name": S(), "lxc.arch": S(arch),
  "lxc.init.cmd": S(), "lxc.execute.cmd": S(), "lxc.init.uid": S(uint), "lxc.init.gid": S(uint), "lxc.init.groups": S(gids),
  "lxc.init.cwd": S(absPath), "lxc.ephemeral": S(bool), "lxc.sched.core": S(bool),
  "lxc.signal.halt": S(signal), "lxc.signal.reboot": S(signal), "lxc.signal.stop": S(signal),
  "lxc.monitor.signal.pdeath": S((v) => (v === "0" ? undefined : signal(v))), "lxc.monitor.unshare": S(bool),
  "lxc.net": S((v) => (v === "" ? undefined : "lxc.net must not have a value")),
  "lxc.pty.max": S(uint), "lxc.tty.max": S(uint), "lxc.tty.dir": S(), "lxc.console.path": S(), "lxc.console.logfile": S(),
  "lxc.console.size": S(size), "lxc.console.buffer.size": S(size), "lxc.console.rotate": S(bool),
  "lxc.autodev": S(bool), "lxc.autodev.tmpfs.size": S(uint),
  "lxc.mount.fstab": S(), "lxc.mount.entry": L((v) => (v.trim().split(/\s+/).length >= 3 ? undefined : "must be an fstab line: SOURCE TARGET FSTYPE OPTIONS [DUMP [PASS]]")),
  "lxc.mount.auto": L(mountAuto),
  "lxc.rootfs.path": S(), "lxc.rootfs.mount": S(), "lxc.rootfs.options": S(rootfsOptions), "lxc.rootfs.managed": S(bool),
  "lxc.cgroup.dir": S(), "lxc.cgroup.dir.container": S(), "lxc.cgroup.dir.monitor": S(), "lxc.cgroup.dir.container.inner": S(),
  "lxc.cgroup.dir.monitor.pivot": S(), "lxc.cgroup.relative": S(bool),
  "lxc.cap.drop": L(caps(false)), "lxc.cap.keep": L(caps(true)),
  "lxc.namespace.clone": S(nsList), "lxc.namespace.keep": S(nsList),
  "lxc.time.offset.boot": S(timeOffset), "lxc.time.offset.monotonic": S(timeOffset),
  "lxc.apparmor.profile": S(), "lxc.apparmor.allow_incomplete": S(bool), "lxc.apparmor.allow_nesting": S(bool), "lxc.apparmor.raw": L(),
  "lxc.selinux.context": S(), "lxc.selinux.context.keyring": S(), "lxc.keyring.session": S(bool),
  "lxc.seccomp.profile": S(), "lxc.seccomp.allow_nesting": S(bool), "lxc.seccomp.notify.proxy": S(), "lxc.seccomp.notify.cookie": S(),
  "lxc.no_new_privs": S(bool), "lxc.idmap": L(idmap),
  "lxc.hook": S((v) => (v === "" ? undefined : "lxc.hook only takes an empty value (it clears all hooks)")),
  "lxc.hook.pre-start": L(), "lxc.hook.pre-mount": L(), "lxc.hook.mount": L(), "lxc.hook.autodev": L(), "lxc.hook.start-host": L(),
  "lxc.hook.start": L(), "lxc.hook.stop": L(), "lxc.hook.post-stop": L(), "lxc.hook.clone": L(), "lxc.hook.destroy": L(),
  "lxc.hook.version": S(bool),
  "lxc.environment": L(envVal), "lxc.environment.runtime": L(envVal), "lxc.environment.hooks": L(envVal),
  "lxc.log.level": S(logLevel), "lxc.log.file": S(), "lxc.log.syslog": S(),
  "lxc.start.auto": S(bool), "lxc.start.delay": S(uint), "lxc.start.order": S((v) => (/^-?\d+$/.test(v) ? undefined : "must be an integer")),
  "lxc.group": L(), "lxc.include": L(),
};

export const NET_TYPES = ["veth", "macvlan", "ipvlan", "vlan", "phys", "empty", "none"];
/** keys under lxc.net.N.; `types` limits the NIC types a key fits */
export const NET_KEYS: Record<string, KeyDef & { types?: string[] }> = {
  type: S(oneOf(...NET_TYPES)), flags: S(oneOf("up")), link: S(), name: S(), hwaddr: S(), mtu: S(uint),
  "ipv4.address": L(ipv4Addr), "ipv4.gateway": S(gw4), "ipv6.address": L(ipv6Addr), "ipv6.gateway": S(gw6),
  "script.up": S(), "script.down": S(), l2proxy: S(bool),
  "veth.mode": { ...S(oneOf("bridge", "router")), types: ["veth"] }, "veth.pair": { ...S(), types: ["veth"] },
  "veth.ipv4.route": { ...L(), types: ["veth"] }, "veth.ipv6.route": { ...L(), types: ["veth"] },
  "veth.vlan.id": { ...S((v) => (v === "none" || (/^\d+$/.test(v) && Number(v) <= 4094) ? undefined : "must be 0-4094 or none")), types: ["veth"] },
  "veth.vlan.tagged.id": { ...L((v) => (/^\d+$/.test(v) && Number(v) <= 4094 ? undefined : "must be 0-4094")), types: ["veth"] },
  "veth.n_rxqueues": { ...S(uint), types: ["veth"] }, "veth.n_txqueues": { ...S(uint), types: ["veth"] },
  "macvlan.mode": { ...S(oneOf("private", "vepa", "bridge", "passthru")), types: ["macvlan"] },
  "ipvlan.mode": { ...S(oneOf("l3", "l3s", "l2")), types: ["ipvlan"] },
  "ipvlan.isolation": { ...S(oneOf("bridge", "private", "vepa")), types: ["ipvlan"] },
  "vlan.id": { ...S((v) => (/^\d+$/.test(v) && Number(v) <= 4094 ? undefined : "must be a VLAN id 0-4094")), types: ["vlan"] },
};

/** Prefix keys: lxc.cgroup.CTRL.FILE, lxc.cgroup2.CTRL.FILE, lxc.sysctl.KEY, lxc.prlimit.NAME, lxc.proc.FILE, lxc.namespace.share.NS. */
export const PREFIXES: Array<{ prefix: string; re: RegExp; def: KeyDef }> = [
  { prefix: "lxc.cgroup2.", re: /^lxc\.cgroup2\.[a-z_]+(\.[A-Za-z0-9_.]+)?$/, def: L() },
  { prefix: "lxc.cgroup.", re: /^lxc\.cgroup\.[a-z_]+(\.[A-Za-z0-9_.]+)?$/, def: L() },
  { prefix: "lxc.sysctl.", re: /^lxc\.sysctl\.[A-Za-z0-9_.\-/]+$/, def: L() },
  { prefix: "lxc.prlimit.", re: /^lxc\.prlimit\.[a-z_]+$/, def: L(rlimit) },
  { prefix: "lxc.proc.", re: /^lxc\.proc\.[A-Za-z0-9_./-]+$/, def: L() },
  { prefix: "lxc.namespace.share.", re: /^lxc\.namespace\.share\.(cgroup|ipc|mnt|net|pid|time|user|uts)$/, def: S() },
];

/** Legacy (pre-2.1) key -> modern key; lxt accepts them with a warning. */
export const LEGACY: Record<string, string> = {
  "lxc.utsname": "lxc.uts.name", "lxc.pts": "lxc.pty.max", "lxc.tty": "lxc.tty.max", "lxc.devttydir": "lxc.tty.dir",
  "lxc.console": "lxc.console.path", "lxc.mount": "lxc.mount.fstab", "lxc.id_map": "lxc.idmap",
  "lxc.aa_profile": "lxc.apparmor.profile", "lxc.aa_allow_incomplete": "lxc.apparmor.allow_incomplete",
  "lxc.se_context": "lxc.selinux.context", "lxc.seccomp": "lxc.seccomp.profile",
  "lxc.haltsignal": "lxc.signal.halt", "lxc.rebootsignal": "lxc.signal.reboot", "lxc.stopsignal": "lxc.signal.stop",
  "lxc.loglevel": "lxc.log.level", "lxc.logfile": "lxc.log.file", "lxc.syslog": "lxc.log.syslog",
  "lxc.init_cmd": "lxc.init.cmd", "lxc.init_uid": "lxc.init.uid", "lxc.init_gid": "lxc.init.gid",
  "lxc.rootfs": "lxc.rootfs.path", "lxc.network": "lxc.net",
};
export const LEGACY_IGNORED = ["lxc.pivotdir", "lxc.kmsg", "lxc.rootfs.backend"];

/** Every exact key name, for did-you-mean. */
export function allKeyNames(): string[] {
  return [...Object.keys(KEYS), ...Object.keys(NET_KEYS).map((k) => `lxc.net.0.${k}`), ...PREFIXES.map((p) => `${p.prefix}...`)];
}
