// Resource limits enforced for real on this host's cgroup v1 controllers:
// a memory hog is OOM-killed while init lives on, cpuset pins, pids.max stops
// forks; a live change through `lxt cgroup`; lxc.cgroup2.* keys translated.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { appendFileSync, existsSync, readdirSync, readFileSync } from "node:fs";
import { skipReason, TestEnv } from "./helpers.ts";

const v1 = (ctrl: string) => existsSync(`/sys/fs/cgroup/${ctrl}/cgroup.procs`) && !existsSync("/sys/fs/cgroup/cgroup.controllers");
const skip = skipReason() ?? (v1("memory") && v1("cpuset") && v1("pids") ? undefined : "these tests need the v1 memory, cpuset and pids controllers (this host's layout)");
if (skip) console.warn(`SKIP cgroup-limits: ${skip}`);
const it = skip ? test.skip : test;

describe("cgroup limits", () => {
  let t: TestEnv;
  beforeEach(() => {
    if (!skip) t = new TestEnv("lim");
  });
  afterEach(async () => {
    if (!skip) await t.close();
  });

  it("memory (with memsw when the host has it): the hog is OOM-killed, init and the host are untouched", () => {
    const memsw = existsSync("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes");
    t.ok(["create", "-n", "m", "-t", "busybox"]);
    appendFileSync(`${t.lxcpath}/m/config`, `lxc.cgroup.memory.limit_in_bytes = 32M\n${memsw ? "lxc.cgroup.memory.memsw.limit_in_bytes = 32M\n" : ""}`);
    t.ok(["start", "-n", "m"]);
    // tail keeps everything it reads when there is no newline: it grows past the limit
    const r = t.lxt(["attach", "-n", "m", "--", "sh", "-c", "head -c 200000000 /dev/zero | tail > /dev/null"]);
    expect(r.code).toBe(137); // SIGKILL from the OOM killer
    const cg = JSON.parse(readFileSync(`${t.rundir}/${readdirSync(t.rundir)[0]}/m/cgroup.json`, "utf8")).paths.memory as string;
    expect(Number(readFileSync(`${cg}/memory.max_usage_in_bytes`, "utf8"))).toBeLessThanOrEqual(32 * 1024 * 1024);
    expect(readFileSync(`${cg}/memory.oom_control`, "utf8")).toMatch(/oom_kill [1-9]/);
    expect(t.ok(["info", "-n", "m", "-s", "-H"]).trim()).toBe("RUNNING");
    expect(t.ok(["attach", "-n", "m", "--", "echo", "alive"]).trim()).toBe("alive");
    // a live change, read back in bytes
    if (memsw) {
      // the kernel keeps memory <= memsw: raising memory first is refused, with the key and the reason
      const bad = t.lxt(["cgroup", "-n", "m", "memory.limit_in_bytes", "64M"]);
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toContain("memory.limit_in_bytes");
      t.ok(["cgroup", "-n", "m", "memory.memsw.limit_in_bytes", "64M"]);
    }
    t.ok(["cgroup", "-n", "m", "memory.limit_in_bytes", "64M"]);
    expect(t.ok(["cgroup", "-n", "m", "memory.limit_in_bytes"]).trim()).toBe("67108864");
    t.ok(["stop", "-n", "m", "-k"]);
    t.ok(["destroy", "-n", "m"]);
  });

  it("cpuset.cpus = 0 pins every process; pids.max = 10 makes forks fail inside", () => {
    t.ok(["create", "-n", "c", "-t", "busybox"]);
    appendFileSync(`${t.lxcpath}/c/config`, "lxc.cgroup.cpuset.cpus = 0\nlxc.cgroup.pids.max = 10\n");
    t.ok(["start", "-n", "c"]);
    expect(t.ok(["attach", "-n", "c", "--", "cat", "/proc/self/status"])).toMatch(/^Cpus_allowed_list:\s+0$/m);
    const r = t.lxt(["attach", "-n", "c", "--", "sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do sleep 5 & done; wait"]);
    expect(r.stderr).toMatch(/can't fork|Resource temporarily unavailable/);
    const pidsDir = JSON.parse(readFileSync(`${t.rundir}/${readdirSync(t.rundir)[0]}/c/cgroup.json`, "utf8")).paths.pids as string;
    expect(readFileSync(`${pidsDir}/pids.events`, "utf8")).toMatch(/max [1-9]/);
    t.ok(["stop", "-n", "c", "-k"]);
    t.ok(["destroy", "-n", "c"]);
  });

  it("accounting: lxt top --batch / --json list the running containers with their use, sorted; info shows it", () => {
    for (const n of ["t1", "t2"]) t.ok(["create", "-n", n, "-t", "busybox"]);
    t.ok(["create", "-n", "t3", "-t", "busybox"]); // stays stopped: not listed
    t.ok(["start", "-n", "t1"]);
    t.ok(["start", "-n", "t2"]);
    t.ok(["attach", "-n", "t2", "--", "sh", "-c", "head -c 20000000 /dev/zero | tail >/dev/null; true"]); // some CPU and memory
    const rows = JSON.parse(t.ok(["top", "--json", "-s", "c"])) as Array<{ name: string; cpuUsageNs: number; memoryBytes: number; pids: number }>;
    expect(rows.map((r) => r.name)).toEqual(["t2", "t1"]); // by CPU, biggest first
    for (const r of rows) {
      expect(r.memoryBytes).toBeGreaterThan(0);
      expect(r.pids).toBeGreaterThan(0);
    }
    expect(JSON.parse(t.ok(["top", "--json", "-s", "n", "-r"])).map((r: { name: string }) => r.name)).toEqual(["t2", "t1"]);
    const batch = t.ok(["top", "--batch"]);
    expect(batch).toMatch(/^Container +CPU/);
    expect(batch).toMatch(/^t1 +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ \w+ +[\d.]+ \w+/m);
    expect(batch).not.toContain("t3");
    expect(batch).not.toContain("\x1b[");
    expect(t.lxt(["top", "-s", "z", "--batch"]).stderr).toContain("invalid sort key `z`");
    expect(t.ok(["info", "-n", "t2"])).toMatch(/^CPU use:\s+[\d.]+ seconds$/m);
    for (const n of ["t1", "t2"]) t.ok(["stop", "-n", n, "-k"]);
    for (const n of ["t1", "t2", "t3"]) t.ok(["destroy", "-n", n]);
  });

  it("lxc.cgroup2.* keys on this v1 host are translated (and logged); one without a counterpart stops the start", () => {
    t.ok(["create", "-n", "x", "-t", "busybox"]);
    const log = `${t.dir}/x.log`;
    appendFileSync(`${t.lxcpath}/x/config`, `lxc.cgroup2.memory.max = 48M\nlxc.cgroup2.cpu.weight = 100\nlxc.log.file = ${log}\nlxc.log.level = NOTICE\n`);
    t.ok(["start", "-n", "x"]);
    expect(t.ok(["cgroup", "-n", "x", "memory.limit_in_bytes"]).trim()).toBe("50331648");
    expect(t.ok(["cgroup", "-n", "x", "cpu.shares"]).trim()).toBe("2597");
    expect(readFileSync(log, "utf8")).toContain("translated for this cgroup v1 host: lxc.cgroup2.memory.max = 48M, lxc.cgroup2.cpu.weight = 100 -> memory.limit_in_bytes = 50331648, cpu.shares = 2597");
    t.ok(["stop", "-n", "x", "-k"]);
    appendFileSync(`${t.lxcpath}/x/config`, "lxc.cgroup2.memory.high = 40M\n");
    const r = t.lxt(["start", "-n", "x"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("`lxc.cgroup2.memory.high = 40M`: this host uses cgroup v1 and this key has no cgroup v1 counterpart");
    t.ok(["destroy", "-n", "x"]);
  });
});
