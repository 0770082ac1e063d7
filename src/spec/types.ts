// ContainerSpec: the one resolved, typed description of a container that
// everything below the config layer consumes. Built from an LXC config by
// src/spec/fromLxcConfig.ts (later from an OCI config.json too). Nothing
// below src/config reads config text: add a field here instead.
//
// Conventions: paths are absolute host paths unless named "...InContainer";
// numbers are already parsed (signals are numbers, sizes are bytes); every
// list is in config order; defaults are applied (a field is optional only
// when "unset" means something different from any value).

export type Namespace = "cgroup" | "ipc" | "mnt" | "net" | "pid" | "time" | "user" | "uts";
export const ALL_NAMESPACES: readonly Namespace[] = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];

export type HookType =
  | "pre-start"
  | "pre-mount"
  | "mount"
  | "autodev"
  | "start-host"
  | "start"
  | "stop"
  | "post-stop"
  | "clone"
  | "destroy";
export const HOOK_TYPES: readonly HookType[] = [
  "pre-start", "pre-mount", "mount", "autodev", "start-host", "start", "stop", "post-stop", "clone", "destroy",
];

export type NicType = "veth" | "macvlan" | "ipvlan" | "vlan" | "phys" | "empty" | "none";

export interface IpAddress {
  /** "10.0.3.5" or "fd00::5" */
  address: string;
  prefix: number;
  /** IPv4 only, when given after the address */
  broadcast?: string;
}

export interface NicSpec {
  /** the N of lxc.net.N */
  index: number;
  type: NicType;
  flagsUp: boolean;
  link?: string;
  /** interface name inside the container (default eth<N> as the kernel would name it) */
  name?: string;
  /** MAC with any x already expanded by create; may still contain x when written by hand */
  hwaddr?: string;
  mtu?: number;
  ipv4: IpAddress[];
  /** address, "auto" or "dev" */
  ipv4Gateway?: string;
  ipv6: IpAddress[];
  ipv6Gateway?: string;
  scriptUp?: string;
  scriptDown?: string;
  l2proxy: boolean;
  veth?: {
    mode: "bridge" | "router";
    pair?: string;
    ipv4Routes: string[];
    ipv6Routes: string[];
    vlanId?: number | "none";
    vlanTagged: number[];
    rxQueues?: number;
    txQueues?: number;
  };
  macvlanMode?: "private" | "vepa" | "bridge" | "passthru";
  ipvlan?: { mode: "l3" | "l3s" | "l2"; isolation: "bridge" | "private" | "vepa" };
  vlanId?: number;
}

export interface MountEntry {
  source: string;
  /** as written: relative to the rootfs (a leading / is stripped when resolving) */
  target: string;
  fstype: string;
  /** every option as written, in order (bind, ro, create=dir, optional, ...) */
  options: string[];
  /** where it came from, for error messages */
  origin: string;
}

export interface AutoMounts {
  proc?: "mixed" | "rw";
  sys?: "mixed" | "ro" | "rw";
  cgroup?: { mode: "mixed" | "ro" | "rw"; full: boolean; force: boolean };
  cgroup2?: { ro: boolean; force: boolean };
  shmounts?: { host: string; container: string };
}

export interface IdMap {
  kind: "u" | "g";
  nsid: number;
  hostid: number;
  range: number;
}

export interface Rlimit {
  /** lowercase name without RLIMIT_: nofile, nproc, core ... */
  name: string;
  /** "unlimited" is represented as -1 */
  soft: number;
  hard: number;
}

export interface KeyValue {
  key: string;
  value: string;
}

export interface ContainerSpec {
  name: string;
  /** the container's directory (lxcpath/name) */
  dir: string;
  lxcpath: string;
  /** the config file it was read from */
  configPath: string;

  hostname: string;
  /** personality as LXC names it after normalization: x86_64, i686 ... */
  arch?: string;

  rootfs: {
    /** lxc.rootfs.path as written, e.g. "dir:/var/lib/lxt/web/rootfs" or "/var/lib/lxt/web/rootfs" */
    spec: string;
    /** backing store type: dir overlay btrfs loop lvm zfs nbd rbd (block device paths map to "blockdev") */
    type: string;
    /** the path part after the type prefix (for overlay: "LOWER:UPPER") */
    path: string;
    /** lxc.rootfs.mount (pivot staging dir), if set */
    mount?: string;
    /** lxc.rootfs.options split on commas (ro, idmap=container, ...) */
    options: string[];
    managed: boolean;
  };

  init: {
    /** argv; default ["/sbin/init"] */
    cmd: string[];
    uid: number;
    gid: number;
    groups: number[];
    cwd: string;
  };
  /** lxc.execute.cmd as argv, if set */
  executeCmd?: string[];
  /** lxc.environment entries: value undefined means "inherit from the caller" */
  environment: Array<{ name: string; value?: string }>;
  ephemeral: boolean;

  signals: { halt: number; reboot: number; stop: number; pdeath: number };
  monitorUnshare: boolean;

  namespaces: {
    /** namespaces to create (lxc.namespace.clone, or the default set) */
    clone: Namespace[];
    /** namespaces inherited from the caller (lxc.namespace.keep) */
    keep: Namespace[];
    /** lxc.namespace.share.NS: container name, PID or /path */
    share: Partial<Record<Namespace, string>>;
  };

  nics: NicSpec[];

  tty: { max: number; dir?: string };
  pty: { max: number };
  console: {
    /** undefined = default (allocate a pty), "none" = no console */
    path?: string;
    logfile?: string;
    /** bytes; 0 = unlimited */
    size: number;
    bufferSize: number;
    rotate: boolean;
  };
  autodev: boolean;
  autodevTmpfsSize: number;

  mount: {
    fstab?: string;
    entries: MountEntry[];
    auto: AutoMounts;
  };

  cgroup: {
    /** lxc.cgroup.CTRL.FILE, in order; key without the "lxc.cgroup." prefix */
    v1: KeyValue[];
    /** lxc.cgroup2.CTRL.FILE, in order; key without the "lxc.cgroup2." prefix */
    v2: KeyValue[];
    dir?: string;
    dirContainer?: string;
    dirMonitor?: string;
    dirContainerInner?: string;
    dirMonitorPivot?: string;
    relative: boolean;
  };

  caps: { mode: "drop" | "keep"; names: string[] };
  rlimits: Rlimit[];
  sysctls: KeyValue[];
  /** lxc.proc.FILE values written to /proc/<init>/FILE */
  proc: KeyValue[];
  time: { bootNs?: bigint; monotonicNs?: bigint };
  schedCore: boolean;

  seccomp: { profile?: string; allowNesting: boolean; notifyProxy?: string; notifyCookie?: string };
  apparmor: { profile?: string; allowIncomplete: boolean; allowNesting: boolean; raw: string[] };
  selinux: { context?: string; keyringContext?: string };
  keyringSession: boolean;
  noNewPrivs: boolean;
  idmaps: IdMap[];

  hooks: Record<HookType, string[]>;
  hookVersion: 0 | 1;

  log: { file?: string; level: number; syslog?: string };
  start: { auto: boolean; delay: number; order: number };
  groups: string[];
}
