// The pure parts of the network layer: naming, the two ip -batch scripts,
// the netlink steps for veth NICs, the managed bridge's address arithmetic.
import { describe, expect, test } from "bun:test";
import { loadConfig } from "../../src/config/load.ts";
import { dhcpRange, overlapsRoutes } from "../../src/net/bridge.ts";
import { hostBatch, hostRouteBatch, insideBatch, netlinkSteps, planNics } from "../../src/net/nic.ts";
import { specFromConfig } from "../../src/spec/fromLxcConfig.ts";

const mk = (text: string) => specFromConfig(loadConfig("/t/config", { text }), { name: "c", lxcpath: "/l", configPath: "/t/config" });

describe("netlink steps (veth NICs only)", () => {
  const veth = mk(["lxc.net.0.type = veth", "lxc.net.0.link = br0", "lxc.net.0.flags = up", "lxc.net.0.veth.pair = vhost0", "lxc.net.0.mtu = 1400",
    "lxc.net.0.hwaddr = 00:16:3e:aa:bb:cc", "lxc.net.0.ipv4.address = 10.1.2.3/24 10.1.2.255", "lxc.net.0.ipv4.gateway = auto", "lxc.net.0.ipv6.address = fd00:1::3/64", "lxc.net.0.ipv6.gateway = dev"].join("\n"));
  test("host: the pair with its peer in the namespace, on the bridge, up; inside: name, MAC, addresses, up, then routes", () => {
    const p = planNics(veth);
    const s = netlinkSteps(p, 4242, (_n, v6) => (v6 ? undefined : "10.1.2.1"))!;
    expect(s.host).toEqual([["veth", "vhost0", p[0]!.tmp, "1400", "4242"], ["master", "vhost0", "br0"], ["up", "vhost0"]]);
    expect(s.inside).toEqual([
      ["netns", "4242"], ["rename", p[0]!.tmp, "eth0"], ["hwaddr", "eth0", "00:16:3e:aa:bb:cc"],
      ["addr", "eth0", "10.1.2.3/24", "10.1.2.255"], ["addr", "eth0", "fd00:1::3/64"], ["up", "eth0"],
      ["route", "eth0", "10.1.2.1"], ["route", "eth0", "-", "6"],
    ]);
  });
  test("any other NIC type keeps the ip path", () => {
    expect(netlinkSteps(planNics(mk("lxc.net.0.type = macvlan\nlxc.net.0.link = eth9\n")), 1, () => undefined)).toBeUndefined();
  });
});

describe("network plans", () => {
  const spec = mk(
    [
      "lxc.net.0.type = veth", "lxc.net.0.link = br0", "lxc.net.0.flags = up", "lxc.net.0.veth.pair = vhost0", "lxc.net.0.mtu = 1400",
      "lxc.net.0.hwaddr = 00:16:3e:aa:bb:cc", "lxc.net.0.ipv4.address = 10.1.2.3/24 10.1.2.255", "lxc.net.0.ipv4.gateway = auto", "lxc.net.0.ipv6.address = fd00:1::3/64", "lxc.net.0.ipv6.gateway = dev",
      "lxc.net.1.type = macvlan", "lxc.net.1.link = eth9", "lxc.net.1.macvlan.mode = bridge",
      "lxc.net.2.type = phys", "lxc.net.2.link = enp3s0", "lxc.net.2.name = wan",
      "lxc.net.3.type = empty",
    ].join("\n"),
  );
  test("names: eth0, eth1 for unnamed NICs in order; phys keeps its host name while moving; veth gets its pair name", () => {
    const p = planNics(spec);
    expect(p.map((x) => x.name)).toEqual(["eth0", "eth1", "wan"]);
    expect(p[0]!.host).toBe("vhost0");
    expect(p[2]!.tmp).toBe("enp3s0");
    expect(p[1]!.tmp).toMatch(/^lxt[0-9a-f]{8}$/);
  });
  test("host batch: devices made, container ends straight into the namespace, host side on the bridge", () => {
    const p = planNics(spec);
    const b = hostBatch(p, 4242);
    expect(b[0]).toBe(`link add name vhost0 mtu 1400 type veth peer name ${p[0]!.tmp} mtu 1400 netns 4242`);
    expect(b).toContain("link set dev vhost0 master br0");
    expect(b).toContain(`link add link eth9 name ${p[1]!.tmp} type macvlan mode bridge`);
    expect(b).toContain(`link set dev ${p[1]!.tmp} netns 4242`);
    expect(b).toContain("link set dev enp3s0 netns 4242");
  });
  test("inside batch: rename, MAC, addresses with broadcast, up, then routes (auto gateway from the bridge, dev route for v6)", () => {
    const p = planNics(spec);
    const b = insideBatch(p, (nic, v6) => (nic.link === "br0" && !v6 ? "10.1.2.1" : undefined));
    expect(b.slice(0, 6)).toEqual([
      `link set dev ${p[0]!.tmp} name eth0`, "link set dev eth0 address 00:16:3e:aa:bb:cc",
      "address add 10.1.2.3/24 broadcast 10.1.2.255 dev eth0", "address add fd00:1::3/64 dev eth0 nodad", "link set dev eth0 up",
      `link set dev ${p[1]!.tmp} name eth1`,
    ]);
    expect(b).toContain("link set dev enp3s0 name wan");
    expect(b.slice(-2)).toEqual(["route add default via 10.1.2.1 dev eth0", "route add ::/0 dev eth0"]);
    expect(b.join("\n")).not.toContain("-6"); // ip -batch takes no family option per line
  });
  test("router mode: host routes to the container's addresses through the host side", () => {
    const r = mk("lxc.net.0.type = veth\nlxc.net.0.veth.mode = router\nlxc.net.0.veth.pair = vr0\nlxc.net.0.ipv4.address = 10.9.0.2/24\nlxc.net.0.veth.ipv4.route = 10.8.0.0/16\n");
    expect(hostRouteBatch(planNics(r))).toEqual(["route add 10.9.0.2/32 dev vr0", "route add 10.8.0.0/16 dev vr0"]);
    expect(hostBatch(planNics(r), 1).some((l) => l.includes("master"))).toBe(false);
  });
  test("bad names are refused with the key", () => {
    expect(() => planNics(mk("lxc.net.0.type = veth\nlxc.net.0.name = a/b\n"))).toThrow("lxc.net.0.name = a/b: not a valid interface name");
  });
});

describe("managed bridge addresses", () => {
  test("DHCP range around the host's address", () => {
    expect(dhcpRange("10.0.4.1/24")).toEqual({ network: "10.0.4.0", prefix: 24, host: "10.0.4.1", first: "10.0.4.2", last: "10.0.4.254" });
    expect(dhcpRange("172.20.0.254/24")).toMatchObject({ first: "172.20.0.1", last: "172.20.0.253" });
    expect(() => dhcpRange("10.0.4.1")).toThrow("invalid subnet");
  });
  test("overlap with the host's routes (the default route does not count)", () => {
    expect(overlapsRoutes("192.0.2.9/24", ["192.0.2.0/24"])).toBe("192.0.2.0/24");
    expect(overlapsRoutes("10.0.4.1/24", ["192.0.2.0/24", "0.0.0.0/0", "10.0.0.0/8"])).toBe("10.0.0.0/8");
    expect(overlapsRoutes("10.0.4.1/24", ["192.0.2.0/24", "10.0.3.0/24"])).toBeUndefined();
  });
});
