// Config -> ContainerSpec: LXC's defaults applied, values parsed.
import { ARCHES, parseSignalValue } from "../config/keys.ts";
import type { Config } from "../config/load.ts";
import { parseLevel } from "../util/log.ts";
import { ALL_NAMESPACES, HOOK_TYPES, type ContainerSpec, type HookType, type IpAddress, type Namespace, type NicSpec, type NicType } from "./types.ts";

/** Splits a command line on blanks, honouring '…' and "…" quoting. */
export function splitCommand(s: string): string[] {
  const out: string[] = [];
  let cur = "";
  let q: string | undefined;
  let has = false;
  for (const c of s) {
    if (q) {
      if (c === q) q = undefined;
      else cur += c;
    } else if (c === "'" || c === '"') {
      q = c;
      has = true;
    } else if (/\s/.test(c)) {
      if (cur || has) out.push(cur);
      cur = "";
      has = false;
    } else cur += c;
  }
  if (cur || has) out.push(cur);
  return out;
}

export function parseSize(v: string): number {
  const m = /^(\d+)\s*([kmg])?b?$/i.exec(v.trim());
  if (!m) return 0;
  const mult = { k: 1024, m: 1048576, g: 1073741824 }[(m[2] ?? "").toLowerCase() as "k"] ?? 1;
  return Number(m[1]) * mult;
}

function ip(v: string): IpAddress {
  const [a, b] = v.trim().split(/\s+/);
  const [address, prefix] = a!.split("/");
  const v6 = address!.includes(":");
  // a bare IPv4 address gets its classful prefix, as LXC does
  const classful = () => { const o = Number(address!.split(".")[0]); return o < 128 ? 8 : o < 192 ? 16 : 24; };
  return { address: address!, prefix: prefix !== undefined ? Number(prefix) : v6 ? 64 : classful(), ...(b ? { broadcast: b } : {}) };
}

function timeNs(v: string | undefined): bigint | undefined {
  if (!v) return undefined;
  const m = /^(-?\d+)(h|m|s|ms|us|ns)$/.exec(v)!;
  const mult: Record<string, bigint> = { h: 3600000000000n, m: 60000000000n, s: 1000000000n, ms: 1000000n, us: 1000n, ns: 1n };
  return BigInt(m[1]!) * mult[m[2]!]!;
}

export function specFromConfig(cfg: Config, ctx: { name: string; lxcpath: string; configPath: string }): ContainerSpec {
  const g = (k: string) => cfg.get(k);
  const num = (k: string, d: number) => (g(k) !== undefined && g(k) !== "" ? Number(g(k)) : d);
  const bool = (k: string, d: boolean) => (g(k) === undefined ? d : g(k) === "1");
  const sig = (k: string, d: number) => (g(k) ? (parseSignalValue(g(k)!) ?? d) : d);
  const dir = `${ctx.lxcpath}/${ctx.name}`;

  // no lxc.rootfs.path: the container shares the host's root file system (as in LXC)
  const rootSpec = g("lxc.rootfs.path") || "/";
  const pm = /^([a-z]+):(.*)$/.exec(rootSpec);
  let type = pm ? pm[1]! : rootSpec.startsWith("/dev/") ? "blockdev" : "dir";
  if (type === "overlayfs") type = "overlay";
  const rootPath = pm ? pm[2]! : rootSpec;

  const nics: NicSpec[] = cfg.nicIndices().map((i) => {
    const n = (s: string) => g(`lxc.net.${i}.${s}`);
    const all = (s: string) => cfg.getAll(`lxc.net.${i}.${s}`);
    const type = (n("type") ?? "empty") as NicType;
    const nic: NicSpec = {
      index: i, type, flagsUp: n("flags") === "up", link: n("link"), name: n("name"), hwaddr: n("hwaddr"),
      mtu: n("mtu") ? Number(n("mtu")) : undefined, ipv4: all("ipv4.address").map(ip), ipv4Gateway: n("ipv4.gateway"),
      ipv6: all("ipv6.address").map(ip), ipv6Gateway: n("ipv6.gateway"), scriptUp: n("script.up"), scriptDown: n("script.down"),
      l2proxy: n("l2proxy") === "1",
    };
    if (type === "veth") {
      const vid = n("veth.vlan.id");
      nic.veth = {
        mode: (n("veth.mode") ?? "bridge") as "bridge" | "router", pair: n("veth.pair"), ipv4Routes: all("veth.ipv4.route"),
        ipv6Routes: all("veth.ipv6.route"), vlanId: vid === undefined ? undefined : vid === "none" ? "none" : Number(vid),
        vlanTagged: all("veth.vlan.tagged.id").map(Number),
        rxQueues: n("veth.n_rxqueues") ? Number(n("veth.n_rxqueues")) : undefined, txQueues: n("veth.n_txqueues") ? Number(n("veth.n_txqueues")) : undefined,
      };
    }
    if (type === "macvlan") nic.macvlanMode = (n("macvlan.mode") ?? "private") as NicSpec["macvlanMode"];
    if (type === "ipvlan") nic.ipvlan = { mode: (n("ipvlan.mode") ?? "l3") as "l3", isolation: (n("ipvlan.isolation") ?? "bridge") as "bridge" };
    if (type === "vlan" && n("vlan.id")) nic.vlanId = Number(n("vlan.id"));
    return nic;
  });

  const idmaps = cfg.getAll("lxc.idmap").map((v) => {
    const [k, a, b, c] = v.trim().split(/\s+/);
    return { kind: k as "u" | "g", nsid: Number(a), hostid: Number(b), range: Number(c) };
  });
  const nsWords = (k: string) => (g(k) ?? "").split(/\s+/).filter(Boolean) as Namespace[];
  const keep = nsWords("lxc.namespace.keep");
  let clone = g("lxc.namespace.clone") ? nsWords("lxc.namespace.clone") : ALL_NAMESPACES.filter((n) => n !== "time" && (n !== "user" || idmaps.length > 0));
  if (nics.some((n) => n.type === "none")) clone = clone.filter((n) => n !== "net");
  clone = clone.filter((n) => !keep.includes(n));
  const share: Partial<Record<Namespace, string>> = {};
  for (const { key, value } of cfg.withPrefix("lxc.namespace.share.")) share[key as Namespace] = value;
  // a shared namespace is joined, not created
  clone = clone.filter((n) => share[n] === undefined);

  const hooks = Object.fromEntries(HOOK_TYPES.map((t) => [t, [] as string[]])) as Record<HookType, string[]>;
  for (const e of cfg.entries) {
    if (e.key === "lxc.hook" && e.value === "") for (const t of HOOK_TYPES) hooks[t] = [];
    const m = /^lxc\.hook\.(.+)$/.exec(e.key);
    if (m && m[1] !== "version") e.value === "" ? (hooks[m[1] as HookType] = []) : hooks[m[1] as HookType].push(e.value);
  }
  const keepCaps = cfg.getAll("lxc.cap.keep");
  const words = (l: string[]) => l.flatMap((v) => v.split(/\s+/)).filter(Boolean).map((c) => c.toLowerCase().replace(/^cap_/, ""));
  const lvl = g("lxc.log.level");
  const initCmd = g("lxc.init.cmd");

  return {
    name: ctx.name, dir, lxcpath: ctx.lxcpath, configPath: ctx.configPath,
    hostname: g("lxc.uts.name") || ctx.name,
    arch: g("lxc.arch") ? ARCHES[g("lxc.arch")!] : undefined,
    rootfs: {
      spec: rootSpec, type, path: rootPath, mount: g("lxc.rootfs.mount") || undefined,
      options: (g("lxc.rootfs.options") ?? "").split(",").filter(Boolean), managed: bool("lxc.rootfs.managed", true),
    },
    init: {
      cmd: initCmd ? splitCommand(initCmd) : ["/sbin/init"], uid: num("lxc.init.uid", 0), gid: num("lxc.init.gid", 0),
      groups: (g("lxc.init.groups") ?? "").split(",").filter(Boolean).map(Number), cwd: g("lxc.init.cwd") || "/",
    },
    executeCmd: g("lxc.execute.cmd") ? splitCommand(g("lxc.execute.cmd")!) : undefined,
    environment: [...cfg.getAll("lxc.environment"), ...cfg.getAll("lxc.environment.runtime")].map((v) => {
      const i = v.indexOf("=");
      return i < 0 ? { name: v } : { name: v.slice(0, i), value: v.slice(i + 1) };
    }),
    ephemeral: bool("lxc.ephemeral", false),
    signals: { halt: sig("lxc.signal.halt", 30), reboot: sig("lxc.signal.reboot", 2), stop: sig("lxc.signal.stop", 9), pdeath: g("lxc.monitor.signal.pdeath") === "0" ? 0 : sig("lxc.monitor.signal.pdeath", 9) },
    monitorUnshare: bool("lxc.monitor.unshare", false),
    namespaces: { clone, keep, share },
    nics,
    tty: { max: num("lxc.tty.max", 0), dir: g("lxc.tty.dir") || undefined },
    pty: { max: num("lxc.pty.max", 0) },
    console: {
      path: g("lxc.console.path") || undefined, logfile: g("lxc.console.logfile") || undefined,
      size: g("lxc.console.size") && g("lxc.console.size") !== "auto" ? parseSize(g("lxc.console.size")!) : 0,
      bufferSize: g("lxc.console.buffer.size") && g("lxc.console.buffer.size") !== "auto" ? parseSize(g("lxc.console.buffer.size")!) : 131072,
      rotate: bool("lxc.console.rotate", false),
    },
    autodev: bool("lxc.autodev", true), autodevTmpfsSize: num("lxc.autodev.tmpfs.size", 500000),
    mount: {
      fstab: g("lxc.mount.fstab") || undefined,
      entries: cfg.entries.filter((e) => e.key === "lxc.mount.entry").reduce((acc, e) => (e.value === "" ? [] : [...acc, e]), [] as typeof cfg.entries).map((e) => {
        const f = e.value.trim().split(/\s+/);
        return { source: f[0]!, target: f[1]!, fstype: f[2]!, options: (f[3] ?? "defaults").split(","), origin: `${e.file}:${e.line}` };
      }),
      auto: autoMounts(cfg.getAll("lxc.mount.auto")),
    },
    cgroup: {
      v1: cfg.withPrefix("lxc.cgroup.").filter((kv) => !/^(dir|relative)(\.|$)/.test(kv.key)),
      v2: cfg.withPrefix("lxc.cgroup2."),
      dir: g("lxc.cgroup.dir") || undefined, dirContainer: g("lxc.cgroup.dir.container") || undefined,
      dirMonitor: g("lxc.cgroup.dir.monitor") || undefined, dirContainerInner: g("lxc.cgroup.dir.container.inner") || undefined,
      dirMonitorPivot: g("lxc.cgroup.dir.monitor.pivot") || undefined, relative: bool("lxc.cgroup.relative", false),
    },
    caps: keepCaps.length ? { mode: "keep", names: words(keepCaps).filter((c) => c !== "none") } : { mode: "drop", names: words(cfg.getAll("lxc.cap.drop")) },
    rlimits: cfg.withPrefix("lxc.prlimit.").map(({ key, value }) => {
      const [s, h] = value.split(":");
      const n = (x: string) => (x === "unlimited" ? -1 : Number(x));
      return { name: key, soft: n(s!), hard: n(h ?? s!) };
    }),
    sysctls: cfg.withPrefix("lxc.sysctl."),
    proc: cfg.withPrefix("lxc.proc."),
    time: { bootNs: timeNs(g("lxc.time.offset.boot")), monotonicNs: timeNs(g("lxc.time.offset.monotonic")) },
    schedCore: bool("lxc.sched.core", false),
    seccomp: { profile: g("lxc.seccomp.profile") || undefined, allowNesting: bool("lxc.seccomp.allow_nesting", false), notifyProxy: g("lxc.seccomp.notify.proxy"), notifyCookie: g("lxc.seccomp.notify.cookie") },
    apparmor: { profile: g("lxc.apparmor.profile") || undefined, allowIncomplete: bool("lxc.apparmor.allow_incomplete", false), allowNesting: bool("lxc.apparmor.allow_nesting", false), raw: cfg.getAll("lxc.apparmor.raw") },
    selinux: { context: g("lxc.selinux.context") || undefined, keyringContext: g("lxc.selinux.context.keyring") || undefined },
    keyringSession: bool("lxc.keyring.session", true),
    noNewPrivs: bool("lxc.no_new_privs", false),
    idmaps,
    hooks,
    hookVersion: g("lxc.hook.version") === "1" ? 1 : 0,
    log: { file: g("lxc.log.file") || undefined, level: lvl === undefined ? 5 : (parseLevel(lvl) ?? 5), syslog: g("lxc.log.syslog") || undefined },
    start: { auto: bool("lxc.start.auto", false), delay: num("lxc.start.delay", 0), order: num("lxc.start.order", 0) },
    groups: cfg.getAll("lxc.group").flatMap((v) => v.split(/\s+/)).filter(Boolean),
  };
}

function autoMounts(values: string[]): ContainerSpec["mount"]["auto"] {
  const a: ContainerSpec["mount"]["auto"] = {};
  for (const t of values.flatMap((v) => v.split(/\s+/)).filter(Boolean)) {
    const [kind, ...rest] = t.split(":");
    if (kind === "proc") a.proc = rest[0] === "rw" ? "rw" : "mixed";
    else if (kind === "sys") a.sys = (rest[0] as "ro" | "rw" | "mixed") ?? "rw";
    else if (kind === "cgroup" || kind === "cgroup-full") a.cgroup = { mode: (rest.find((r) => r !== "force") as "mixed") ?? "mixed", full: kind === "cgroup-full", force: rest.includes("force") };
    else if (kind === "cgroup2") a.cgroup2 = { ro: rest.includes("ro"), force: rest.includes("force") };
    else if (kind === "shmounts") a.shmounts = { host: rest[0]!, container: rest[1] ?? "/dev/.lxc-mounts" };
  }
  return a;
}
