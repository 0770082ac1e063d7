// The managed bridge (what lxc-net gives LXC users): a bridge with its own
// subnet, a dnsmasq serving DHCP and DNS on it only, and NAT for traffic that
// leaves through the host (nftables; iptables when nft is missing). It
// survives lxt exiting; `lxt net start` is idempotent and containers whose
// NIC links to it start it on demand.
//
// State lives in RUNDIR (default /run/lxt/net/NAME, LXT_NET_RUNDIR moves it):
// state.json (subnet, what ip_forward was), dnsmasq.pid, dnsmasq.leases.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { errorMessage, LxtError } from "../util/errors.ts";
import { run } from "../util/exec.ts";
import { log } from "../util/log.ts";

export const DEFAULT_BRIDGE = "lxtbr0";
/** LXC's lxcbr0 takes 10.0.3.0/24: lxt's default sits next to it. */
export const DEFAULT_SUBNET = "10.0.4.1/24";

export interface BridgeOptions {
  name?: string;
  /** host address with prefix, e.g. 10.0.4.1/24 */
  subnet?: string;
  /** IPv6 host address with prefix (e.g. fd42:4c58:5400::1/64); SLAAC + DHCPv6 from dnsmasq */
  ipv6?: string;
  nat?: boolean;
}

export interface BridgeState {
  name: string;
  subnet: string;
  ipv6?: string;
  nat: boolean;
  /** ip_forward before lxt set it, restored on stop */
  forwardBefore: string;
  dnsmasqPid?: number;
  natTool?: "nft" | "iptables";
}

export function netRunDir(name: string): string {
  return `${process.env.LXT_NET_RUNDIR ?? "/run/lxt/net"}/${name}`;
}

function ipv4Parts(cidr: string): { addr: number[]; prefix: number } {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
  if (!m) throw new LxtError(`invalid subnet \`${cidr}\``, "give the bridge's address with a prefix, e.g. 10.0.4.1/24");
  const addr = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (addr.some((o) => o > 255) || prefix < 8 || prefix > 30) throw new LxtError(`invalid subnet \`${cidr}\``, "octets 0-255, prefix 8-30");
  return { addr, prefix };
}

const toInt = (a: number[]) => ((a[0]! << 24) | (a[1]! << 16) | (a[2]! << 8) | a[3]!) >>> 0;
const toStr = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");
const maskOf = (prefix: number) => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

/** Network, first and last DHCP addresses of a subnet given as the host's address. */
export function dhcpRange(cidr: string): { network: string; prefix: number; host: string; first: string; last: string } {
  const { addr, prefix } = ipv4Parts(cidr);
  const mask = maskOf(prefix);
  const host = toInt(addr);
  const net = (host & mask) >>> 0;
  const bcast = (net | (~mask >>> 0)) >>> 0;
  const first = host === net + 1 ? net + 2 : net + 1;
  const last = host === bcast - 1 ? bcast - 2 : bcast - 1;
  return { network: toStr(net), prefix, host: toStr(host), first: toStr(first), last: toStr(last) };
}


/** A route of the host's that a subnet overlaps (the bridge must not cut the machine off); the default route does not count. */
export function overlapsRoutes(cidr: string, routes: string[]): string | undefined {
  const r = dhcpRange(cidr);
  const a = toInt(r.network.split(".").map(Number));
  for (const route of routes) {
    const m = /^(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?/.exec(route);
    if (!m) continue;
    const p = m[2] === undefined ? 32 : Number(m[2]);
    if (p === 0) continue;
    const cm = maskOf(Math.min(r.prefix, p));
    if (((a & cm) >>> 0) === ((toInt(m[1]!.split(".").map(Number)) & cm) >>> 0)) return route;
  }
  return undefined;
}

function hostRoutes(): string[] {
  const r = run(["ip", "-4", "-j", "route", "show", "table", "all"], { allowFail: true });
  const j = JSON.parse(r.stdout || "[]") as Array<{ dst: string; type?: string }>;
  return j.filter((x) => x.dst && x.dst !== "default" && x.type !== "broadcast" && x.type !== "local").map((x) => x.dst);
}

export function bridgeState(name = DEFAULT_BRIDGE): BridgeState | undefined {
  try {
    return JSON.parse(readFileSync(`${netRunDir(name)}/state.json`, "utf8")) as BridgeState;
  } catch {
    return undefined;
  }
}

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    return s.slice(s.lastIndexOf(")") + 2)[0] !== "Z" && readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith("dnsmasq");
  } catch {
    return false;
  }
}

function natRules(st: BridgeState): void {
  const { network, prefix } = dhcpRange(st.subnet);
  const table = `lxt_${st.name.replace(/[^A-Za-z0-9_]/g, "_")}`;
  if (run(["sh", "-c", "command -v nft"], { allowFail: true }).status === 0) {
    const rules = [
      `table ip ${table} {`,
      `  chain postrouting { type nat hook postrouting priority srcnat; policy accept; ip saddr ${network}/${prefix} ip daddr != ${network}/${prefix} masquerade; }`,
      `  chain forward { type filter hook forward priority filter; policy accept; iifname "${st.name}" accept; oifname "${st.name}" ct state related,established accept; }`,
      "}",
    ];
    run(["nft", "-f", "-"], { stdin: `${rules.join("\n")}\n` });
    st.natTool = "nft";
  } else {
    run(["iptables", "-t", "nat", "-A", "POSTROUTING", "-s", `${network}/${prefix}`, "!", "-d", `${network}/${prefix}`, "-j", "MASQUERADE", "-m", "comment", "--comment", `lxt ${st.name}`]);
    st.natTool = "iptables";
  }
}

function removeNat(st: BridgeState): string[] {
  const warnings: string[] = [];
  const table = `lxt_${st.name.replace(/[^A-Za-z0-9_]/g, "_")}`;
  if (st.natTool === "nft") {
    const r = run(["nft", "delete", "table", "ip", table], { allowFail: true });
    if (r.status !== 0 && !/No such file/.test(r.stderr)) warnings.push(`nft delete table ip ${table}: ${r.stderr.trim()}`);
  } else if (st.natTool === "iptables") {
    const { network, prefix } = dhcpRange(st.subnet);
    run(["iptables", "-t", "nat", "-D", "POSTROUTING", "-s", `${network}/${prefix}`, "!", "-d", `${network}/${prefix}`, "-j", "MASQUERADE", "-m", "comment", "--comment", `lxt ${st.name}`], { allowFail: true });
  }
  return warnings;
}

/** Creates and starts the bridge, its dnsmasq and NAT; does nothing if it already runs. */
export function startBridge(o: BridgeOptions = {}): BridgeState {
  const name = o.name ?? DEFAULT_BRIDGE;
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) throw new LxtError(`invalid bridge name \`${name}\``, "at most 15 letters, digits or _.-");
  const dir = netRunDir(name);
  const cur = bridgeState(name);
  if (cur && existsSync(`/sys/class/net/${name}`) && alive(cur.dnsmasqPid)) return cur;
  if (cur) stopBridge(name); // half there: start over
  if (existsSync(`/sys/class/net/${name}`)) throw new LxtError(`\`${name}\` already exists and lxt did not make it`, "pick another name with --bridge, or remove it");
  const subnet = o.subnet ?? DEFAULT_SUBNET;
  const range = dhcpRange(subnet);
  const clash = overlapsRoutes(subnet, hostRoutes());
  if (clash) throw new LxtError(`subnet ${subnet} overlaps the host's route ${clash}`, "pick a free one with --subnet, e.g. 10.0.5.1/24");
  if (run(["sh", "-c", "command -v dnsmasq"], { allowFail: true }).status !== 0) throw new LxtError("dnsmasq is not installed", "run scripts/setup (it installs dnsmasq-base)");

  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const st: BridgeState = { name, subnet, ipv6: o.ipv6, nat: o.nat !== false, forwardBefore: readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim() };
  writeFileSync(`${dir}/state.json`, JSON.stringify(st));
  try {
    const lines = [`link add ${name} type bridge`, `address add ${subnet} dev ${name}`, `link set dev ${name} up`];
    if (o.ipv6) lines.push(`-6 address add ${o.ipv6} dev ${name} nodad`);
    run(["ip", "-batch", "-"], { stdin: `${lines.join("\n")}\n` });
    const args = [
      "dnsmasq", "--conf-file=/dev/null", "--strict-order", "--bind-interfaces", `--interface=${name}`, "--except-interface=lo",
      `--listen-address=${range.host}`, `--dhcp-range=${range.first},${range.last}`, "--dhcp-no-override", "--dhcp-authoritative",
      `--dhcp-leasefile=${dir}/dnsmasq.leases`, `--pid-file=${dir}/dnsmasq.pid`, "--dhcp-lease-max=1000",
    ];
    if (o.ipv6) args.push(`--dhcp-range=${o.ipv6.split("/")[0]},ra-stateless,ra-names`, "--enable-ra");
    run(args);
    st.dnsmasqPid = Number(readFileSync(`${dir}/dnsmasq.pid`, "utf8").trim());
    if (st.nat) {
      natRules(st);
      writeFileSync("/proc/sys/net/ipv4/ip_forward", "1");
    }
    writeFileSync(`${dir}/state.json`, JSON.stringify(st));
    log("INFO", "net", `bridge ${name} ${subnet} up, dnsmasq pid ${st.dnsmasqPid}, NAT ${st.nat ? st.natTool : "off"}`);
    return st;
  } catch (e) {
    writeFileSync(`${dir}/state.json`, JSON.stringify(st));
    stopBridge(name);
    throw new LxtError(`start bridge ${name}: ${errorMessage(e)}`);
  }
}

/** Stops dnsmasq (by the pid it recorded), removes NAT and the bridge, restores ip_forward. */
export function stopBridge(name = DEFAULT_BRIDGE): string[] {
  const st = bridgeState(name);
  if (!st) return [];
  const warnings: string[] = [];
  const dir = netRunDir(name);
  if (alive(st.dnsmasqPid)) {
    try {
      process.kill(st.dnsmasqPid!, "SIGTERM");
    } catch (e) {
      warnings.push(`stop dnsmasq ${st.dnsmasqPid}: ${errorMessage(e)}`);
    }
    for (let i = 0; i < 100 && alive(st.dnsmasqPid); i++) Bun.sleepSync(10);
  }
  warnings.push(...removeNat(st));
  if (st.nat && st.forwardBefore !== "1") {
    // other managed bridges still forwarding keep it on
    const others = listBridges().filter((b) => b.name !== name && b.nat);
    if (!others.length) writeFileSync("/proc/sys/net/ipv4/ip_forward", st.forwardBefore);
  }
  if (existsSync(`/sys/class/net/${name}`)) {
    const r = run(["ip", "link", "del", name], { allowFail: true });
    if (r.status !== 0) warnings.push(`delete ${name}: ${r.stderr.trim()}`);
  }
  rmSync(dir, { recursive: true, force: true });
  return warnings;
}

export function listBridges(): BridgeState[] {
  const base = process.env.LXT_NET_RUNDIR ?? "/run/lxt/net";
  try {
    return readdirSync(base).map((n) => bridgeState(n)).filter((b): b is BridgeState => !!b);
  } catch {
    return [];
  }
}

export interface Lease {
  mac: string;
  ip: string;
  hostname: string;
}

/** dnsmasq's lease file: "EXPIRY MAC IP HOSTNAME CLIENTID". */
export function leases(name = DEFAULT_BRIDGE): Lease[] {
  try {
    return readFileSync(`${netRunDir(name)}/dnsmasq.leases`, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => {
        const [, mac, ip, hostname] = l.split(" ");
        return { mac: mac!, ip: ip!, hostname: hostname === "*" ? "" : hostname! };
      });
  } catch {
    return [];
  }
}
