// lxc.net.N: the container's network interfaces, made by the host between
// clone and the container's setup (the shim's "clone" sync point), so init
// finds its network configured. Two steps: one on the host (make the
// devices, attach host sides, move the container sides into the new network
// namespace under temporary names), one inside (names, MACs, MTUs,
// addresses, up, routes) — veth NICs through the shim's rtnetlink executor
// (`lxt-shim netlink`), other types with `ip -batch` (inside via nsenter).
//
// Everything made is recorded in RUNDIR/net.json before it is made, so the
// teardown (on stop, after a crash, after a failed start) knows what to undo.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { encodePlan, type Op } from "../runtime/encode.ts";
import { shimPath } from "../runtime/statefile.ts";
import type { ContainerSpec, NicSpec } from "../spec/types.ts";
import { errorMessage, LxtError } from "../util/errors.ts";
import { run } from "../util/exec.ts";
import { log } from "../util/log.ts";

export interface NetRecord {
  /** host-side devices lxt made (veth host ends): deleted on teardown if still there */
  hostDevices: string[];
  /** host NICs moved in (phys): returned under their own name */
  phys: Array<{ name: string; inside: string; ifindex: number }>;
  /** lxc.net.N.script.down to run on teardown */
  down: Array<{ script: string; env: Record<string, string>; args: string[] }>;
}

const IFNAME = /^[A-Za-z0-9_.:-]{1,15}$/;

function rand(n: number): string {
  return Array.from({ length: n }, () => "0123456789abcdef"[Math.floor(Math.random() * 16)]).join("");
}

/** MAC with every x replaced by a random hex digit (create does it; one written by hand may still have them). */
export function expandMac(v: string): string {
  return v.replace(/x/gi, () => rand(1));
}

export interface NicPlan {
  nic: NicSpec;
  /** the name inside (eth0, ...) */
  name: string;
  /** the temporary name it has while moving in */
  tmp: string;
  /** the host-side device for veth */
  host?: string;
}

/** Names for every NIC that creates a device, in index order (eth0, eth1... for unnamed ones, as LXC). */
export function planNics(spec: ContainerSpec): NicPlan[] {
  const out: NicPlan[] = [];
  let eth = 0;
  const used = new Set(spec.nics.map((n) => n.name).filter(Boolean));
  for (const nic of spec.nics) {
    if (nic.type === "empty" || nic.type === "none") continue;
    let name = nic.name;
    if (!name) {
      while (used.has(`eth${eth}`)) eth++;
      name = `eth${eth++}`;
    }
    if (!IFNAME.test(name)) throw new LxtError(`lxc.net.${nic.index}.name = ${name}: not a valid interface name`, "at most 15 letters, digits or _.:-");
    const tmp = nic.type === "phys" ? nic.link! : `lxt${rand(8)}`;
    const host = nic.type === "veth" ? (nic.veth?.pair ?? `veth${rand(6)}`) : undefined;
    if (host && !IFNAME.test(host)) throw new LxtError(`lxc.net.${nic.index}.veth.pair = ${host}: not a valid interface name`, "at most 15 letters, digits or _.:-");
    out.push({ nic, name, tmp, host });
  }
  return out;
}

/** Host-side `ip -batch` lines: make each device and move its container end into PID's namespace. */
export function hostBatch(plans: NicPlan[], pid: number): string[] {
  const lines: string[] = [];
  for (const { nic, tmp, host } of plans) {
    const mtu = nic.mtu ? ` mtu ${nic.mtu}` : "";
    switch (nic.type) {
      case "veth":
        lines.push(`link add name ${host}${mtu} type veth peer name ${tmp}${mtu} netns ${pid}`);
        if (nic.link && nic.veth?.mode !== "router") lines.push(`link set dev ${host} master ${nic.link}`);
        lines.push(`link set dev ${host} up`);
        break;
      case "macvlan":
        lines.push(`link add link ${nic.link} name ${tmp}${mtu} type macvlan mode ${nic.macvlanMode ?? "private"}`, `link set dev ${tmp} netns ${pid}`);
        break;
      case "ipvlan":
        lines.push(`link add link ${nic.link} name ${tmp}${mtu} type ipvlan mode ${nic.ipvlan?.mode ?? "l3"} ${nic.ipvlan?.isolation ?? "bridge"}`, `link set dev ${tmp} netns ${pid}`);
        break;
      case "vlan":
        lines.push(`link add link ${nic.link} name ${tmp}${mtu} type vlan id ${nic.vlanId}`, `link set dev ${tmp} netns ${pid}`);
        break;
      case "phys":
        lines.push(`link set dev ${nic.link} netns ${pid}`);
        break;
    }
  }
  return lines;
}

/**
 * The steps inside the container's network namespace, in order: name, MAC,
 * MTU (phys: the others get theirs at creation), addresses, up, then the
 * routes once every link is up and addressed. `autoGw` resolves
 * ipv4.gateway = auto. Run by the shim's netlink executor, or as `ip -batch`
 * lines (insideBatch).
 */
export function insideSteps(plans: NicPlan[], autoGw: (nic: NicSpec, v6: boolean) => string | undefined): Op[] {
  const ops: Op[] = [];
  for (const { nic, name, tmp } of plans) {
    if (tmp !== name) ops.push(["rename", tmp, name]);
    if (nic.hwaddr) ops.push(["hwaddr", name, expandMac(nic.hwaddr)]);
    if (nic.mtu && nic.type === "phys") ops.push(["mtu", name, String(nic.mtu)]);
    for (const a of nic.ipv4) ops.push(["addr", name, `${a.address}/${a.prefix}`, ...(a.broadcast ? [a.broadcast] : [])]);
    for (const a of nic.ipv6) ops.push(["addr", name, `${a.address}/${a.prefix}`]);
    if (nic.flagsUp) ops.push(["up", name]);
  }
  for (const { nic, name } of plans) {
    if (!nic.flagsUp) continue;
    for (const [gw, v6] of [[nic.ipv4Gateway, false], [nic.ipv6Gateway, true]] as const) {
      if (!gw) continue;
      if (gw === "dev") ops.push(["route", name, "-", v6 ? "6" : "4"]);
      else {
        const via = gw === "auto" ? autoGw(nic, v6) : gw;
        if (via) ops.push(["route", name, via]);
      }
    }
  }
  return ops;
}

/** insideSteps as `ip -batch` lines (ip -batch takes no -6 per line: the family comes from the addresses). */
export function insideBatch(plans: NicPlan[], autoGw: (nic: NicSpec, v6: boolean) => string | undefined): string[] {
  return insideSteps(plans, autoGw).map(([op, dev, x, y]) => {
    switch (op) {
      case "rename": return `link set dev ${dev} name ${x}`;
      case "hwaddr": return `link set dev ${dev} address ${x}`;
      case "mtu": return `link set dev ${dev} mtu ${x}`;
      case "addr": return x!.includes(":") ? `address add ${x} dev ${dev} nodad` : `address add ${x}${y ? ` broadcast ${y}` : ""} dev ${dev}`;
      case "up": return `link set dev ${dev} up`;
      default: { // route DEV VIA|- [4|6]
        const dst = (x === "-" ? y === "6" : x!.includes(":")) ? "::/0" : "default";
        return x === "-" ? `route add ${dst} dev ${dev}` : `route add ${dst} via ${x} dev ${dev}`;
      }
    }
  });
}

/** veth.mode = router and veth.ipv4.route/ipv6.route: host routes to the container through its host-side device. */
export function hostRouteBatch(plans: NicPlan[]): string[] {
  const lines: string[] = [];
  for (const { nic, host } of plans) {
    if (nic.type !== "veth" || !host) continue;
    if (nic.veth?.mode === "router") {
      for (const a of nic.ipv4) lines.push(`route add ${a.address}/32 dev ${host}`);
      for (const a of nic.ipv6) lines.push(`route add ${a.address}/128 dev ${host}`);
    }
    for (const r of nic.veth?.ipv4Routes ?? []) lines.push(`route add ${r} dev ${host}`);
    for (const r of nic.veth?.ipv6Routes ?? []) lines.push(`route add ${r} dev ${host}`);
  }
  return lines;
}

/**
 * veth NICs (the common case: every default container has one) go through
 * the shim's rtnetlink executor instead of `ip -batch` + nsenter: the same
 * steps, one static process each side (~1 ms against ~3 ms per `ip`).
 * Other NIC types keep the `ip` path.
 */
export function netlinkSteps(plans: NicPlan[], pid: number, autoGw: (nic: NicSpec, v6: boolean) => string | undefined): { host: Op[]; inside: Op[] } | undefined {
  if (!plans.length || !plans.every((p) => p.nic.type === "veth" && p.host)) return undefined;
  const host: Op[] = [];
  for (const { nic, tmp, host: dev } of plans) {
    host.push(["veth", dev!, tmp, String(nic.mtu ?? 0), String(pid)]);
    if (nic.link && nic.veth?.mode !== "router") host.push(["master", dev!, nic.link]);
    host.push(["up", dev!]);
  }
  return { host, inside: [["netns", String(pid)], ...insideSteps(plans, autoGw)] };
}

function netlink(ops: Op[]): void {
  if (!ops.length) return;
  const r = Bun.spawnSync([shimPath(), "netlink", "-"], { stdin: encodePlan(ops), stdout: "ignore", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(r.stderr.toString().trim() || `the shim exited with ${r.exitCode}`);
}

function ipBatch(lines: string[], netnsOf?: number): void {
  if (!lines.length) return;
  const argv = netnsOf ? ["nsenter", `--net=/proc/${netnsOf}/ns/net`, "ip", "-batch", "-"] : ["ip", "-batch", "-"];
  const r = run(argv, { stdin: `${lines.join("\n")}\n`, allowFail: true });
  if (r.status !== 0) {
    const msg = r.stderr.trim().split("\n").filter(Boolean);
    throw new Error(msg.join(" | ") || `ip exited with ${r.status}`);
  }
}

/** The host side's first global address of `link` (ipv4.gateway = auto), as LXC takes it. */
function linkAddress(link: string | undefined, v6: boolean): string | undefined {
  if (!link) return undefined;
  const addrs = networkInterfaces()[link] ?? [];
  return addrs.find((a) => a.family === (v6 ? "IPv6" : "IPv4") && !a.internal && !(v6 && /^fe80:/i.test(a.address)))?.address;
}

function writeRecord(rundir: string, rec: NetRecord): void {
  writeFileSync(`${rundir}/net.json`, JSON.stringify(rec));
}

function checkLinks(plans: NicPlan[]): void {
  for (const { nic } of plans) {
    const needsLink = nic.type !== "veth";
    if (needsLink && !nic.link) throw new LxtError(`lxc.net.${nic.index}: a ${nic.type} interface needs lxc.net.${nic.index}.link`, "name the host interface it sits on");
    if (nic.link && !existsSync(`/sys/class/net/${nic.link}`)) {
      const what = nic.type === "veth" ? "bridge" : nic.type === "phys" ? "interface" : "parent interface";
      throw new LxtError(`lxc.net.${nic.index}.link: ${what} \`${nic.link}\` does not exist`, nic.type === "veth" ? "create it (lxt net start makes lxtbr0), or fix the link" : "see `ip link`");
    }
    if (nic.type === "vlan" && nic.vlanId === undefined) throw new LxtError(`lxc.net.${nic.index}: a vlan interface needs lxc.net.${nic.index}.vlan.id`);
  }
}

function hookEnv(spec: ContainerSpec, p: NicPlan, when: "up" | "down"): Record<string, string> {
  return {
    LXC_NAME: spec.name,
    LXC_CONFIG_FILE: spec.configPath,
    LXC_HOOK_TYPE: when,
    LXC_HOOK_SECTION: "net",
    LXC_HOOK_VERSION: String(spec.hookVersion),
    LXC_NET_TYPE: p.nic.type,
    ...(p.nic.link ? { LXC_NET_PARENT: p.nic.link } : {}),
    ...(p.host ? { LXC_NET_PEER: p.host } : {}),
  };
}

function runScript(script: string, env: Record<string, string>, args: string[], what: string): void {
  const r = run(["/bin/sh", "-c", `${script} ${args.join(" ")}`], { env: { ...process.env, ...env }, allowFail: true });
  if (r.status !== 0) throw new LxtError(`${what} \`${script}\` exited with status ${r.status}${r.stderr.trim() ? `: ${r.stderr.trim()}` : ""}`);
}

/**
 * Makes and configures every NIC for init (pid) before it runs. On failure
 * it undoes what it made and throws, naming the NIC.
 */
export function setupNetwork(spec: ContainerSpec, pid: number, rundir: string, o: { append?: boolean } = {}): NicPlan[] {
  const plans = planNics(spec);
  if (!plans.length) return plans;
  checkLinks(plans);
  // append (a NIC added to a running container): the record grows; a failure undoes only the new NIC
  const prev: NetRecord = (o.append && readRecord(rundir)) || { hostDevices: [], phys: [], down: [] };
  const rec: NetRecord = { hostDevices: plans.flatMap((p) => (p.host ? [p.host] : [])), phys: [], down: [] };
  for (const p of plans)
    if (p.nic.type === "phys") rec.phys.push({ name: p.nic.link!, inside: p.name, ifindex: Number(readFileSync(`/sys/class/net/${p.nic.link}/ifindex`, "utf8")) });
  const merged = () => ({ hostDevices: [...prev.hostDevices, ...rec.hostDevices], phys: [...prev.phys, ...rec.phys], down: [...prev.down, ...rec.down] });
  writeRecord(rundir, merged());
  try {
    const gw = (nic: NicSpec, v6: boolean) => linkAddress(nic.link, v6);
    const nl = netlinkSteps(plans, pid, gw);
    try {
      if (nl) netlink(nl.host);
      else ipBatch(hostBatch(plans, pid));
    } catch (e) {
      throw new LxtError(`network: making the interfaces (${plans.map((p) => `lxc.net.${p.nic.index} ${p.nic.type}`).join(", ")}) failed: ${errorMessage(e)}`, "check the lxc.net.N.link devices and that the kernel has that interface type");
    }
    try {
      if (nl) netlink(nl.inside);
      else ipBatch(insideBatch(plans, gw), pid);
    } catch (e) {
      throw new LxtError(`network: configuring the interfaces inside failed: ${errorMessage(e)}`, "check lxc.net.N.ipv4.address/gateway, hwaddr and mtu");
    }
    try {
      ipBatch(hostRouteBatch(plans));
    } catch (e) {
      throw new LxtError(`network: host routes for veth router mode / veth.*.route failed: ${errorMessage(e)}`);
    }
    for (const p of plans) {
      if (p.nic.scriptUp) runScript(p.nic.scriptUp, hookEnv(spec, p, "up"), [spec.name, "net", "up", p.nic.type, p.host ?? p.nic.link ?? ""], `lxc.net.${p.nic.index}.script.up`);
      if (p.nic.scriptDown) rec.down.push({ script: p.nic.scriptDown, env: hookEnv(spec, p, "down"), args: [spec.name, "net", "down", p.nic.type, p.host ?? p.nic.link ?? ""] });
    }
    writeRecord(rundir, merged());
    log("INFO", "network", `configured ${plans.map((p) => `${p.name} (${p.nic.type}${p.host ? ` host ${p.host}` : ""})`).join(", ")}`);
    return plans;
  } catch (e) {
    for (const w of teardownRecord(rec, `/proc/${pid}/ns/net`)) log("WARN", "network", w);
    writeRecord(rundir, prev);
    throw e;
  }
}

function readRecord(rundir: string): NetRecord | undefined {
  try {
    return JSON.parse(readFileSync(`${rundir}/net.json`, "utf8")) as NetRecord;
  } catch {
    return undefined;
  }
}

/**
 * Undoes setupNetwork: returns moved host NICs under their own names (from
 * the container's namespace while it still exists — `netns` names a process
 * or fd path holding it — or, once it is gone, by ifindex from wherever the
 * kernel put them), deletes host-side devices, runs script.down. Idempotent;
 * returns warnings instead of throwing.
 */
export function teardownNetwork(rundir: string, netnsPid?: number | string): string[] {
  const rec = readRecord(rundir);
  if (!rec) return [];
  const warnings = teardownRecord(rec, typeof netnsPid === "number" ? `/proc/${netnsPid}/ns/net` : netnsPid);
  writeRecord(rundir, { hostDevices: [], phys: [], down: [] });
  return warnings;
}

function teardownRecord(rec: NetRecord, nsPath: string | undefined): string[] {
  const warnings: string[] = [];
  for (const p of rec.phys) {
    if (existsSync(`/sys/class/net/${p.name}`) && Number(readFileSync(`/sys/class/net/${p.name}/ifindex`, "utf8")) === p.ifindex) continue; // home already
    if (nsPath && existsSync(nsPath)) {
      const r = run(["nsenter", `--net=${nsPath}`, "ip", "link", "set", "dev", p.inside, "down"], { allowFail: true });
      const m = run(["nsenter", `--net=${nsPath}`, "ip", "link", "set", "dev", p.inside, "netns", String(process.pid), "name", p.name], { allowFail: true });
      if (m.status === 0) continue;
      void r;
    }
    // the namespace is gone: a physical device came back under its inside name
    const here = run(["ip", "-j", "link", "show"], { allowFail: true });
    const dev = (JSON.parse(here.stdout || "[]") as Array<{ ifindex: number; ifname: string }>).find((d) => d.ifindex === p.ifindex);
    if (dev && dev.ifname !== p.name) {
      const r = run(["ip", "link", "set", "dev", dev.ifname, "name", p.name], { allowFail: true });
      if (r.status !== 0) warnings.push(`return ${p.name}: ${r.stderr.trim()}`);
    } else if (!dev) warnings.push(`${p.name} did not come back to the host (a virtual device is destroyed with the container's network namespace)`);
  }
  for (const d of rec.hostDevices) {
    if (!existsSync(`/sys/class/net/${d}`)) continue;
    const r = run(["ip", "link", "del", d], { allowFail: true });
    if (r.status !== 0 && existsSync(`/sys/class/net/${d}`)) warnings.push(`delete ${d}: ${r.stderr.trim()}`);
  }
  for (const s of rec.down) {
    try {
      runScript(s.script, s.env, s.args, "script.down");
    } catch (e) {
      warnings.push(errorMessage(e));
    }
  }
  return warnings;
}
