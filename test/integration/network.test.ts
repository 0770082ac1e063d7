// lxc.net.N for real: veth on a bridge (IPv4 and IPv6, ping and TCP between
// containers and the host), macvlan modes, phys in and back out (also after
// SIGKILL of init), a bad NIC, and the managed bridge with a real dnsmasq
// giving a busybox container its address by DHCP. Traffic stays between the
// host and the namespaces these tests make; NAT is checked by reading the
// ruleset. Subnets: 10.231.0.0/16 and fd42:231::/48 (nothing on this host).
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { appendFileSync, existsSync, readdirSync, readFileSync } from "node:fs";
import { LXT, skipReason, TestEnv, until } from "./helpers.ts";

const skip = skipReason();
if (skip) console.warn(`SKIP network: ${skip}`);
const it = skip ? test.skip : test;
const tag = (process.pid % 1000).toString().padStart(3, "0");

function ip(...args: string[]): { code: number; out: string; err: string } {
  const p = Bun.spawnSync(["ip", ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode ?? 1, out: p.stdout.toString(), err: p.stderr.toString() };
}

/** A live process (a zombie waiting for this host's slow reaper counts as gone). */
function running(pid: number): boolean {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    return s.slice(s.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** Whether this kernel can make an interface of that type (vlan, ipvlan are modules some kernels lack). */
function kernelHas(type: string): boolean {
  const parent = `lxtk${tag}`;
  ip("link", "add", parent, "type", "veth", "peer", "name", `${parent}p`);
  const r = ip("link", "add", "link", parent, "name", `${parent}x`, "type", type, ...(type === "vlan" ? ["id", "5"] : []));
  ip("link", "del", parent);
  return r.code === 0;
}

const vlanSkip = skip ?? (kernelHas("vlan") ? undefined : "this kernel cannot make vlan interfaces (no 8021q)");
if (vlanSkip && !skip) console.warn(`SKIP network vlan: ${vlanSkip}`);
const itVlan = vlanSkip ? test.skip : test;

describe("network", () => {
  let t: TestEnv;
  const made: string[] = [];
  beforeEach(() => {
    if (!skip) t = new TestEnv("net");
  });
  afterEach(async () => {
    if (skip) return;
    for (const l of made.splice(0)) ip("link", "del", l);
    await t.close();
  });
  const bridge = (name: string, v4: string, v6?: string) => {
    made.push(name);
    expect(ip("link", "add", name, "type", "bridge").code).toBe(0);
    ip("addr", "add", v4, "dev", name);
    if (v6) ip("addr", "add", v6, "dev", name, "nodad");
    ip("link", "set", name, "up");
  };
  const container = (name: string, keys: string[]) => {
    t.ok(["create", "-n", name, "-t", "busybox"]);
    appendFileSync(`${t.lxcpath}/${name}/config`, `${keys.join("\n")}\n`);
  };

  it("veth on a bridge: containers reach each other and the host over IPv4 and IPv6, TCP too; host sides go at stop", () => {
    const br = `lxtb${tag}`;
    bridge(br, "10.231.1.1/24", "fd42:231:1::1/64");
    for (const [n, a] of [["a", 2], ["b", 3]] as const)
      container(n, [
        "lxc.net.0.type = veth", `lxc.net.0.link = ${br}`, "lxc.net.0.flags = up", "lxc.net.0.hwaddr = 00:16:3e:xx:xx:xx", `lxc.net.0.veth.pair = lxtv${tag}${n}`,
        `lxc.net.0.ipv4.address = 10.231.1.${a}/24`, "lxc.net.0.ipv4.gateway = auto", `lxc.net.0.ipv6.address = fd42:231:1::${a}/64`, "lxc.net.0.mtu = 1400",
      ]);
    t.ok(["start", "-n", "a"]);
    t.ok(["start", "-n", "b"]);
    expect(readFileSync(`/sys/class/net/lxtv${tag}a/master/uevent`, "utf8")).toContain(`INTERFACE=${br}`);
    const sh = (c: string, cmd: string) => t.lxt(["attach", "-n", c, "--", "sh", "-c", cmd]);
    const link = sh("a", "ip -o link show eth0").stdout;
    expect(link).toContain("mtu 1400");
    expect(link).toMatch(/link\/ether 00:16:3e:/);
    expect(sh("a", "ip route").stdout).toContain("default via 10.231.1.1 dev eth0");
    expect(sh("a", "ping -c1 -W2 10.231.1.3").code).toBe(0);
    expect(sh("a", "ping -c1 -W2 10.231.1.1").code).toBe(0);
    expect(sh("b", "ping6 -c1 -W2 fd42:231:1::2").code).toBe(0);
    expect(Bun.spawnSync(["busybox", "ping", "-c1", "-W2", "10.231.1.2"]).exitCode).toBe(0);
    // TCP: a one-shot echo server in b, a client in a
    const srv = Bun.spawn([LXT, "attach", "-P", t.lxcpath, "-n", "b", "--", "nc", "-l", "-p", "7007", "-e", "/bin/cat"], { env: t.env(), stdout: "ignore", stderr: "ignore" });
    let echoed = "";
    for (let i = 0; i < 20 && echoed !== "hello"; i++) {
      Bun.sleepSync(100);
      echoed = sh("a", "echo hello | nc -w 2 10.231.1.3 7007").stdout.trim();
    }
    expect(echoed).toBe("hello");
    srv.kill(9);
    t.ok(["ls", "--fancy"]);
    expect(t.ok(["info", "-n", "a", "-i", "-H"]).split("\n")).toContain("10.231.1.2");
    t.ok(["stop", "-n", "a", "-k"]);
    t.ok(["stop", "-n", "b", "-k"]);
    expect(existsSync(`/sys/class/net/lxtv${tag}a`)).toBe(false);
    expect(existsSync(`/sys/class/net/lxtv${tag}b`)).toBe(false);
    t.ok(["destroy", "-n", "a"]);
    t.ok(["destroy", "-n", "b"]);
  });

  it("hot-plug: a new veth on a bridge goes into a running container (lxt device add veth:BRIDGE) and away again", async () => {
    const br = `lxth${tag}`;
    bridge(br, "10.231.8.1/24");
    container("h", []);
    t.ok(["start", "-n", "h"]);
    t.ok(["device", "-n", "h", "add", `veth:${br}`]);
    const sh = (cmd: string) => t.lxt(["attach", "-n", "h", "--", "sh", "-c", cmd]);
    expect(sh("ip -o link show eth0").stdout).toContain("UP");
    t.ok(["attach", "-n", "h", "--", "ip", "addr", "add", "10.231.8.2/24", "dev", "eth0"]);
    expect(sh("ping -c1 -W2 10.231.8.1").code).toBe(0);
    const hostSide = readdirSync(`/sys/class/net/${br}/brif`);
    expect(hostSide.length).toBe(1);
    t.ok(["device", "-n", "h", "del", "eth0"]);
    expect(sh("ip link show eth0").code).not.toBe(0);
    expect(existsSync(`/sys/class/net/${hostSide[0]}`)).toBe(false);
    expect(t.lxt(["device", "-n", "h", "add", "veth:lxtnosuchbr"]).stderr).toContain("bridge `lxtnosuchbr` does not exist");
    t.ok(["stop", "-n", "h", "-k"]);
    t.ok(["destroy", "-n", "h"]);
  });

  it("a NIC that cannot be made aborts the start with its name; nothing is left", () => {
    container("x", ["lxc.net.0.type = veth", "lxc.net.0.link = lxtnosuchbr", "lxc.net.0.flags = up"]);
    const r = t.lxt(["start", "-n", "x"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("lxc.net.0.link: bridge `lxtnosuchbr` does not exist");
    container("y", ["lxc.net.0.type = veth", "lxc.net.0.flags = up", "lxc.net.0.ipv4.address = 10.231.2.2/24", "lxc.net.0.ipv4.gateway = 10.231.99.1"]);
    const r2 = t.lxt(["start", "-n", "y"]);
    expect(r2.code).not.toBe(0);
    expect(r2.stderr).toContain("configuring the interfaces inside failed");
    expect(t.ok(["info", "-n", "y", "-s", "-H"]).trim()).toBe("STOPPED");
    t.ok(["destroy", "-n", "x"]);
    t.ok(["destroy", "-n", "y"]);
  });

  it("macvlan: bridge mode lets two containers on one parent talk; private mode does not", () => {
    const parent = `lxtm${tag}`;
    made.push(parent);
    expect(ip("link", "add", parent, "type", "veth", "peer", "name", `${parent}p`).code).toBe(0);
    ip("link", "set", parent, "up");
    ip("link", "set", `${parent}p`, "up");
    for (const mode of ["bridge", "private"]) {
      for (const [n, a] of [["m1", 2], ["m2", 3]] as const)
        container(`${n}${mode}`, ["lxc.net.0.type = macvlan", `lxc.net.0.link = ${parent}`, `lxc.net.0.macvlan.mode = ${mode}`, "lxc.net.0.flags = up", `lxc.net.0.ipv4.address = 10.231.3.${a}/24`]);
      t.ok(["start", "-n", `m1${mode}`]);
      t.ok(["start", "-n", `m2${mode}`]);
      const r = t.lxt(["attach", "-n", `m1${mode}`, "--", "ping", "-c1", "-W1", "10.231.3.3"]);
      expect({ mode, reached: r.code === 0 }).toEqual({ mode, reached: mode === "bridge" });
      t.ok(["stop", "-n", `m1${mode}`, "-k"]);
      t.ok(["stop", "-n", `m2${mode}`, "-k"]);
      t.ok(["destroy", "-n", `m1${mode}`]);
      t.ok(["destroy", "-n", `m2${mode}`]);
    }
  });

  itVlan("vlan: a container on id N reaches a peer on N", () => {
    const parent = `lxtq${tag}`;
    made.push(parent);
    ip("link", "add", parent, "type", "veth", "peer", "name", `${parent}p`);
    ip("link", "set", parent, "up");
    ip("link", "set", `${parent}p`, "up");
    ip("link", "add", "link", `${parent}p`, "name", `${parent}v`, "type", "vlan", "id", "10");
    ip("addr", "add", "10.231.4.1/24", "dev", `${parent}v`);
    ip("link", "set", `${parent}v`, "up");
    container("v", ["lxc.net.0.type = vlan", `lxc.net.0.link = ${parent}`, "lxc.net.0.vlan.id = 10", "lxc.net.0.flags = up", "lxc.net.0.ipv4.address = 10.231.4.2/24"]);
    t.ok(["start", "-n", "v"]);
    expect(t.lxt(["attach", "-n", "v", "--", "ping", "-c1", "-W2", "10.231.4.1"]).code).toBe(0);
    t.ok(["stop", "-n", "v", "-k"]);
    t.ok(["destroy", "-n", "v"]);
  });

  it("phys: a host interface moves in renamed and comes back under its own name, on stop and after SIGKILL of init", async () => {
    const nic = `lxtp${tag}`;
    made.push(nic);
    expect(ip("link", "add", nic, "type", "veth", "peer", "name", `${nic}p`).code).toBe(0);
    container("p", ["lxc.net.0.type = phys", `lxc.net.0.link = ${nic}`, "lxc.net.0.name = eth3", "lxc.net.0.flags = up", "lxc.net.0.ipv4.address = 10.231.5.2/24"]);
    t.ok(["start", "-n", "p"]);
    expect(existsSync(`/sys/class/net/${nic}`)).toBe(false);
    expect(t.ok(["attach", "-n", "p", "--", "ip", "-o", "addr", "show", "eth3"])).toContain("10.231.5.2/24");
    t.ok(["stop", "-n", "p", "-k"]);
    expect(existsSync(`/sys/class/net/${nic}`)).toBe(true);
    t.ok(["start", "-n", "p"]);
    const pid = Number(t.ok(["info", "-n", "p", "-p", "-H"]).trim());
    process.kill(pid, 9);
    expect(await until(() => t.lxt(["info", "-n", "p", "-s", "-H"]).stdout.trim() === "STOPPED" && existsSync(`/sys/class/net/${nic}`), 5000)).toBe(true);
    t.ok(["destroy", "-n", "p"]);
  });

  it("managed bridge: lxt net start makes the bridge, dnsmasq and NAT; a busybox container gets its address by DHCP; stop removes it all", async () => {
    const br = `lxtn${tag}`;
    const env = { LXT_NET_RUNDIR: `${t.dir}/net` };
    const forward = readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim();
    expect(t.lxt(["net", "start", "--bridge", br, "--subnet", "192.0.2.77/24"], { env }).stderr).toContain("overlaps the host's route");
    expect(existsSync(`/sys/class/net/${br}`)).toBe(false);
    t.ok(["net", "start", "--bridge", br, "--subnet", "10.231.6.1/24"], { env });
    t.ok(["net", "start", "--bridge", br, "--subnet", "10.231.6.1/24"], { env }); // idempotent
    const st = JSON.parse(readFileSync(`${t.dir}/net/${br}/state.json`, "utf8"));
    expect(readFileSync(`/proc/${st.dnsmasqPid}/cmdline`, "utf8")).toContain(`--interface=${br}`);
    const nft = Bun.spawnSync(["nft", "list", "table", "ip", `lxt_${br}`]).stdout.toString();
    expect(nft).toMatch(/ip saddr 10\.231\.6\.0\/24 ip daddr != 10\.231\.6\.0\/24 masquerade/);
    expect(readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim()).toBe("1");
    container("d", ["lxc.net.0.type = veth", `lxc.net.0.link = ${br}`, "lxc.net.0.flags = up", "lxc.net.0.hwaddr = 00:16:3e:12:34:56"]);
    t.ok(["start", "-n", "d"], { env });
    expect(await until(() => /^10\.231\.6\.\d+$/m.test(t.lxt(["info", "-n", "d", "-i", "-H"]).stdout), 10_000)).toBe(true);
    const got = t.ok(["info", "-n", "d", "-i", "-H"]).trim();
    expect(readFileSync(`${t.dir}/net/${br}/dnsmasq.leases`, "utf8")).toContain(`00:16:3e:12:34:56 ${got}`);
    expect(t.ok(["net", "status", "--bridge", br], { env })).toContain(got);
    t.ok(["stop", "-n", "d", "-k"]);
    t.ok(["destroy", "-n", "d"]);
    t.ok(["net", "stop", "--bridge", br], { env });
    expect(existsSync(`/sys/class/net/${br}`)).toBe(false);
    expect(running(st.dnsmasqPid)).toBe(false);
    expect(Bun.spawnSync(["nft", "list", "table", "ip", `lxt_${br}`]).exitCode).not.toBe(0);
    expect(readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim()).toBe(forward);
  });
});
