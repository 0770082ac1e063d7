// cgroup layer without root: detection from mountinfo text and from fake
// trees, placement and collision naming, key routing, the translation table,
// and the drivers reading a fake cgroupfs in a temp dir.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { cgroupDriver, detectLayout, parseMountinfo, parseProcCgroup, probeTree, translateSettings, V1Cgroup, V2Cgroup } from "../../src/cgroup/index.ts";
import { settingOrder } from "../../src/cgroup/keys.ts";
import { baseDir, chooseName, containerPath, occupancy } from "../../src/cgroup/placement.ts";
import type { CgroupSpec } from "../../src/cgroup/index.ts";
import { LxtError, NotFoundError, NotSupportedError, StateError } from "../../src/util/errors.ts";

// this host's mountinfo, trimmed: a v1 hybrid with an empty cgroup2 and a named systemd hierarchy
const HYBRID = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;
// a systemd-era v1 host: co-mounted controllers, optional fields, release_agent, xattr
const V1 = `25 18 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd
29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct
30 25 0:27 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory
31 25 0:27 / /mnt/memory\\040again rw,relatime shared:14 - cgroup cgroup rw,memory
`;
const V2 = `24 18 0:21 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
25 18 0:30 / /tmp/other\\040mount rw - cgroup2 cgroup2 rw
`;

const spec = (o: Partial<CgroupSpec> = {}): CgroupSpec => ({ v1: [], v2: [], relative: false, ...o });

describe("detection from mountinfo", () => {
  test("hybrid: v1 controllers plus the unified mount", () => {
    const l = detectLayout(undefined, HYBRID);
    expect(l.layout).toBe("hybrid");
    expect(l.unified).toBe("/sys/fs/cgroup/unified");
    expect(l.v1Controllers).toEqual({
      cpu: "/sys/fs/cgroup/cpu", cpuacct: "/sys/fs/cgroup/cpuacct", cpuset: "/sys/fs/cgroup/cpuset",
      memory: "/sys/fs/cgroup/memory", pids: "/sys/fs/cgroup/pids", "name=systemd": "/sys/fs/cgroup/systemd",
    });
    expect(l.hierarchies.length).toBe(7);
  });
  test("v1: co-mounted controllers share one mountpoint; a second mount of a hierarchy is ignored; mount options are not controllers", () => {
    const l = detectLayout(undefined, V1);
    expect(l.layout).toBe("v1");
    expect(l.unified).toBeUndefined();
    expect(l.v1Controllers).toEqual({ "name=systemd": "/sys/fs/cgroup/systemd", cpu: "/sys/fs/cgroup/cpu,cpuacct", cpuacct: "/sys/fs/cgroup/cpu,cpuacct", memory: "/sys/fs/cgroup/memory" });
    expect(parseMountinfo(V1).map((h) => h.controllers)).toEqual([["name=systemd"], ["cpu", "cpuacct"], ["memory"]]);
  });
  test("v2: only cgroup2; escapes decoded; root narrows to mounts below it", () => {
    const l = detectLayout(undefined, V2);
    expect(l.layout).toBe("v2");
    expect(l.unified).toBe("/sys/fs/cgroup");
    expect(Object.keys(l.v1Controllers)).toEqual([]);
    expect(detectLayout("/tmp/other mount", V2).unified).toBe("/tmp/other mount");
    expect(detectLayout("/sys/fs/cgroup/memory", HYBRID).layout).toBe("v1");
    expect(detectLayout("/nowhere", HYBRID).hierarchies).toEqual([]);
  });
  test("a named hierarchy alone does not make a v1 layout", () => {
    const t = "40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n41 31 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
    expect(detectLayout(undefined, t).layout).toBe("v2");
  });
  test("a bind mount of a subtree keeps its root", () => {
    const t = "50 1 0:32 /lxc/c1 /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
    expect(parseMountinfo(t)[0]).toEqual({ mountpoint: "/sys/fs/cgroup/memory", controllers: ["memory"], root: "/lxc/c1", unified: false });
  });
});

describe("fake cgroupfs trees", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync("/tmp/lxt-unit-cg-");
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    expect(existsSync(dir)).toBe(false);
  });
  const file = (p: string, text = "") => {
    mkdirSync(p.slice(0, p.lastIndexOf("/")), { recursive: true });
    writeFileSync(p, text);
  };
  function fakeV1(): string {
    for (const c of ["cpu,cpuacct", "memory", "pids", "freezer", "systemd"]) {
      file(`${dir}/${c}/tasks`);
      file(`${dir}/${c}/cgroup.procs`);
    }
    symlinkSync("cpu,cpuacct", `${dir}/cpu`);
    symlinkSync("cpu,cpuacct", `${dir}/cpuacct`);
    file(`${dir}/unified/cgroup.controllers`, "");
    file(`${dir}/unified/cgroup.procs`);
    return dir;
  }
  function fakeV2(): string {
    file(`${dir}/cgroup.controllers`, "cpu memory pids\n");
    file(`${dir}/cgroup.subtree_control`, "");
    file(`${dir}/cgroup.procs`);
    return dir;
  }

  test("probe: a v1 tree with aliases and a unified subdir is hybrid", () => {
    const hs = probeTree(fakeV1());
    // aliases (symlinks to cpu,cpuacct) count once; "systemd" is the named hierarchy
    expect(hs.map((h) => h.controllers.join(","))).toEqual(["cpu,cpuacct", "freezer", "memory", "pids", "name=systemd", ""]);
    const l = detectLayout(dir);
    expect(l.layout).toBe("hybrid");
    expect(l.v1Controllers.cpuacct).toBe(l.v1Controllers.cpu!);
    expect(l.v1Controllers["name=systemd"]).toBe(`${dir}/systemd`);
    expect(hs.filter((h) => h.controllers.includes("cpu")).length).toBe(1);
    expect(cgroupDriver({ root: dir }).version).toBe(1);
  });
  test("probe: a directory with cgroup.controllers is a v2 hierarchy; controllers listed", () => {
    const l = detectLayout(fakeV2());
    expect(l.layout).toBe("v2");
    expect(l.unified).toBe(dir);
    expect(l.unifiedControllers).toEqual(["cpu", "memory", "pids"]);
    expect(cgroupDriver({ root: dir }).version).toBe(2);
    expect(cgroupDriver({ root: dir, force: 1 }).version).toBe(1);
  });
  test("an empty directory: no hierarchy, create says so", () => {
    expect(() => cgroupDriver({ root: dir }).create({ name: "x", spec: spec() })).toThrow(/no cgroup hierarchy is mounted at or below/);
  });

  test("v2 create on a fake tree: lxt.payload.NAME, controllers offered to it, NAME-1 beside a live one, an empty leftover taken over", () => {
    fakeV2();
    const d = cgroupDriver({ root: dir });
    const a = d.create({ name: "web", spec: spec() });
    expect(a.record()).toEqual({ version: 2, paths: { unified: `${dir}/lxt.payload.web` } });
    expect(a.joinFiles()).toEqual([`${dir}/lxt.payload.web/cgroup.procs`]);
    expect(a.unifiedDir?.()).toBe(`${dir}/lxt.payload.web`);
    // the fake tree keeps only the last write; the kernel would accumulate
    expect(readFileSync(`${dir}/cgroup.subtree_control`, "utf8")).toBe("+pids");
    // a live one of that name: the next start gets -1 (as LXC), then -2
    writeFileSync(`${dir}/lxt.payload.web/cgroup.procs`, "4242\n");
    expect(d.create({ name: "web", spec: spec() }).record().paths.unified).toBe(`${dir}/lxt.payload.web-1`);
    writeFileSync(`${dir}/lxt.payload.web-1/cgroup.procs`, "4343\n");
    expect(d.create({ name: "web", spec: spec() }).record().paths.unified).toBe(`${dir}/lxt.payload.web-2`);
    // an empty leftover (crashed run) is removed and made afresh
    mkdirSync(`${dir}/lxt.payload.db/sub`, { recursive: true });
    const db = d.create({ name: "db", spec: spec() });
    expect(db.record().paths.unified).toBe(`${dir}/lxt.payload.db`);
    expect(existsSync(`${dir}/lxt.payload.db/sub`)).toBe(false);
  });
  test("v2 create: a config-chosen dir is not renamed; a live one there is an error; dir.container.inner is where processes join", () => {
    fakeV2();
    const d = cgroupDriver({ root: dir });
    const cg = d.create({ name: "web", spec: spec({ dirContainer: "ct/web", dirContainerInner: "init" }) });
    expect(cg.record()).toEqual({ version: 2, paths: { unified: `${dir}/ct/web` }, inner: "init" });
    expect(cg.joinFiles()).toEqual([`${dir}/ct/web/init/cgroup.procs`]);
    writeFileSync(`${dir}/ct/web/init/cgroup.procs`, "77\n");
    expect(() => d.create({ name: "web", spec: spec({ dirContainer: "ct/web" }) })).toThrow(StateError);
  });
  test("v2 create: a setting for a controller the parent cannot offer fails by name and leaves nothing", () => {
    fakeV2();
    const d = cgroupDriver({ root: dir });
    const e = (() => {
      try {
        d.create({ name: "io1", spec: spec({ v2: [{ key: "io.max", value: "8:0 rbps=1" }] }) });
      } catch (x) {
        return x as LxtError;
      }
    })();
    expect(e).toBeInstanceOf(NotSupportedError);
    expect(e!.message).toBe(`create cgroup \`lxt.payload.io1\`: the cgroup v2 controller \`io\` is not available below \`${dir}\``);
    expect(existsSync(`${dir}/lxt.payload.io1`)).toBe(false);
  });
  test("v1 create on a fake tree (no cpuset): the same path in each hierarchy, co-mounted ones once; v2-only keys refused before anything is made", () => {
    fakeV1();
    const d = cgroupDriver({ root: dir });
    expect(() => d.create({ name: "c", spec: spec({ v2: [{ key: "memory.high", value: "1G" }] }) })).toThrow(
      "apply `lxc.cgroup2.memory.high = 1G`: this host uses cgroup v1 and this key has no cgroup v1 counterpart",
    );
    expect(existsSync(`${dir}/memory/lxt.payload.c`)).toBe(false);
    const cg = d.create({ name: "c", spec: spec() });
    const paths = cg.record().paths;
    expect(paths.memory).toBe(`${dir}/memory/lxt.payload.c`);
    expect(paths.cpu).toBe(paths.cpuacct!);
    expect(paths["name=systemd"]).toBe(`${dir}/systemd/lxt.payload.c`);
    expect(paths.unified).toBeUndefined();
    expect(cg.joinFiles().length).toBe(5);
    expect(cg.joinFiles().every((f) => f.endsWith("/lxt.payload.c/tasks"))).toBe(true);
    expect(cg.unifiedDir).toBeUndefined();
  });

  test("v1 key routing, reads, pids, stats and freezer state on fake files", () => {
    const base = fakeV1();
    const cgdir = (c: string) => `${base}/${c}/ct`;
    const paths: Record<string, string> = { cpu: cgdir("cpu,cpuacct"), cpuacct: cgdir("cpu,cpuacct"), memory: cgdir("memory"), pids: cgdir("pids"), freezer: cgdir("freezer") };
    file(`${cgdir("memory")}/memory.limit_in_bytes`, "9223372036854771712\n");
    file(`${cgdir("memory")}/memory.usage_in_bytes`, "4096\n");
    file(`${cgdir("memory")}/cgroup.procs`, "10\n11\n");
    file(`${cgdir("memory")}/sub/cgroup.procs`, "12\n");
    file(`${cgdir("pids")}/cgroup.procs`, "10\n13\n");
    file(`${cgdir("cpu,cpuacct")}/cpuacct.usage`, "123456\n");
    file(`${cgdir("freezer")}/freezer.state`, "FREEZING\n");
    const cg = new V1Cgroup(paths);
    cg.set("memory.limit_in_bytes", "512M");
    expect(readFileSync(`${cgdir("memory")}/memory.limit_in_bytes`, "utf8")).toBe("512M");
    expect(cg.get("memory.limit_in_bytes")).toBe("512M");
    expect(cg.get("cpuacct.usage")).toBe("123456");
    expect(() => cg.set("net_cls.classid", "1")).toThrow(NotFoundError);
    expect(() => cg.set("net_cls.classid", "1")).toThrow("set cgroup `net_cls.classid`: no cgroup v1 controller `net_cls` is mounted on this host");
    expect(() => cg.get("memory.../../x")).toThrow("read cgroup `memory.../../x`: not a cgroup key");
    expect(() => cg.get("memory.stat")).toThrow("read cgroup `memory.stat`: the `memory` controller has no file `memory.stat`");
    // no O_CREAT: a missing file is an error, not a new file
    expect(() => cg.set("memory.soft_limit_in_bytes", "1")).toThrow(NotFoundError);
    expect(existsSync(`${cgdir("memory")}/memory.soft_limit_in_bytes`)).toBe(false);
    expect(cg.pids().sort()).toEqual([10, 11, 12, 13]);
    expect(cg.stats()).toEqual({ cpuUsageNs: 123456, memoryBytes: 4096, pids: 4 });
    expect(cg.freezerState()).toBe("FREEZING");
    expect(new V1Cgroup(paths, "inner").joinFiles()).toContain(`${cgdir("memory")}/inner/tasks`);
  });

  test("v2 routing, stats and freezer state on fake files", () => {
    fakeV2();
    const d = `${dir}/ct`;
    file(`${d}/cgroup.controllers`, "memory\n");
    file(`${d}/memory.max`, "max\n");
    file(`${d}/memory.current`, "8192\n");
    file(`${d}/memory.stat`, "anon 1\nkernel 512\nfile 3\n");
    file(`${d}/cpu.stat`, "usage_usec 7\nuser_usec 5\n");
    file(`${d}/io.stat`, "8:0 rbytes=100 wbytes=5 rios=1\n8:16 rbytes=1 wbytes=2\n");
    file(`${d}/cgroup.procs`, "5\n");
    file(`${d}/cgroup.freeze`, "1\n");
    file(`${d}/cgroup.events`, "populated 1\nfrozen 0\n");
    const cg = new V2Cgroup(d);
    expect(cg.stats()).toEqual({ cpuUsageNs: 7000, cpuUserNs: 5000, memoryBytes: 8192, kmemBytes: 512, blkioBytes: { read: 101, write: 7 }, pids: 1 });
    expect(cg.freezerState()).toBe("FREEZING");
    writeFileSync(`${d}/cgroup.events`, "populated 1\nfrozen 1\n");
    expect(cg.freezerState()).toBe("FROZEN");
    cg.set("memory.max", "1G");
    expect(cg.get("memory.max")).toBe("1G");
    expect(() => cg.set("pids.max", "5")).toThrow("set cgroup `pids.max`: the cgroup v2 controller `pids` is not enabled for this cgroup");
  });

  test("occupancy across hierarchies: free, an empty leftover, busy if any hierarchy holds a process", () => {
    file(`${dir}/a/x/cgroup.procs`, "");
    file(`${dir}/b/x/deep/cgroup.procs`, "");
    expect(occupancy([`${dir}/a`, `${dir}/b`], "y")).toBe("free");
    expect(occupancy([`${dir}/a`, `${dir}/b`], "x")).toBe("empty");
    writeFileSync(`${dir}/b/x/deep/cgroup.procs`, "99\n");
    expect(occupancy([`${dir}/a`, `${dir}/b`], "x")).toBe("busy");
  });
});

describe("placement", () => {
  test("collision naming: -1, -2 after live ones, leftovers reused, explicit paths never renamed", () => {
    const live = new Set(["lxt.payload.web", "lxt.payload.web-1"]);
    expect(chooseName("lxt.payload.web", false, (r) => (live.has(r) ? "busy" : "free"))).toEqual({ rel: "lxt.payload.web-2", leftover: false });
    expect(chooseName("lxt.payload.web", false, () => "empty")).toEqual({ rel: "lxt.payload.web", leftover: true });
    expect(() => chooseName("a/b", true, () => "busy")).toThrow("create cgroup `a/b`: it already holds running processes");
  });
  test("container path: lxt.payload.NAME, dir, dir.container; bad names and paths refused", () => {
    expect(containerPath("web", spec())).toEqual({ rel: "lxt.payload.web", explicit: false });
    expect(containerPath("web", spec({ dir: "/lxc/web/" }))).toEqual({ rel: "lxc/web", explicit: true });
    expect(containerPath("web", spec({ dir: "a", dirContainer: "b/c" })).rel).toBe("b/c");
    expect(() => containerPath("web", spec({ dir: "../escape" }))).toThrow("lxc.cgroup.dir = ../escape is not a relative path below the base cgroup");
    expect(() => containerPath("a/b", spec())).toThrow(LxtError);
    expect(() => containerPath("web", spec({ dirContainer: "x", dirContainerInner: "a/b" }))).toThrow("must be a single directory name");
  });
  test("base: the cgroup of the chosen process per hierarchy, init.scope pruned on v2, a bind-mounted subtree stripped", () => {
    const own = parseProcCgroup("12:memory:/process_api/abc\n11:cpu,cpuacct:/\n1:name=systemd:/user.slice\n0::/init.scope\n");
    const h = (mountpoint: string, controllers: string[], root = "/") => ({ mountpoint, controllers, root, unified: controllers.length === 0 });
    expect(baseDir(h("/sys/fs/cgroup/memory", ["memory"]), own)).toBe("/sys/fs/cgroup/memory/process_api/abc");
    expect(baseDir(h("/sys/fs/cgroup/cpu,cpuacct", ["cpu", "cpuacct"]), own)).toBe("/sys/fs/cgroup/cpu,cpuacct");
    expect(baseDir(h("/sys/fs/cgroup/systemd", ["name=systemd"]), own)).toBe("/sys/fs/cgroup/systemd/user.slice");
    expect(baseDir(h("/sys/fs/cgroup", []), own)).toBe("/sys/fs/cgroup");
    expect(baseDir(h("/sys/fs/cgroup/memory", ["memory"], "/process_api"), own)).toBe("/sys/fs/cgroup/memory/abc");
    expect(baseDir(h("/sys/fs/cgroup/pids", ["pids"]), own)).toBe("/sys/fs/cgroup/pids");
  });
  test("/proc/PID/cgroup parsing splits co-mounted controllers; v2 is 'unified'", () => {
    expect(parseProcCgroup("4:cpu,cpuacct:/a\n1:name=systemd:/b\n0::/c\n")).toEqual([
      { controller: "cpu", path: "/a" },
      { controller: "cpuacct", path: "/a" },
      { controller: "name=systemd", path: "/b" },
      { controller: "unified", path: "/c" },
    ]);
  });
});

describe("keys and translation", () => {
  test("memsw goes after the memory limit, the rest keeps config order", () => {
    const kv = (key: string) => ({ key, value: "1" });
    expect(settingOrder([kv("memory.memsw.limit_in_bytes"), kv("pids.max"), kv("memory.limit_in_bytes"), kv("cpu.shares")]).map((k) => k.key)).toEqual([
      "pids.max", "memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "cpu.shares",
    ]);
    expect(settingOrder([kv("devices.deny"), kv("devices.allow"), kv("devices.allow")]).map((k) => k.key)).toEqual(["devices.deny", "devices.allow", "devices.allow"]);
  });
  test("the other version's keys: cpuset.* and pids.max carry over; keys without a counterpart are refused by name", () => {
    expect(translateSettings([{ key: "cpuset.cpus", value: "0-1" }, { key: "pids.max", value: "10" }], 1, 2)).toEqual([{ key: "cpuset.cpus", value: "0-1" }, { key: "pids.max", value: "10" }]);
    expect(() => translateSettings([{ key: "memory.oom_control", value: "1" }], 1, 2)).toThrow(
      "apply `lxc.cgroup.memory.oom_control = 1`: this host uses cgroup v2 and this key has no cgroup v2 counterpart",
    );
    try {
      translateSettings([{ key: "devices.allow", value: "c 1:3 rwm" }], 1, 2);
      throw new Error("not refused");
    } catch (e) {
      expect(e).toBeInstanceOf(NotSupportedError);
      expect((e as LxtError).hint).toContain("eBPF");
    }
    expect(translateSettings([{ key: "memory.max", value: "1G" }], 2, 2)).toEqual([{ key: "memory.max", value: "1G" }]);
  });
});
