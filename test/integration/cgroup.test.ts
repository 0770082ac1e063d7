// cgroup keys from the config reach the kernel and are enforced; lxt cgroup reads and changes them live.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { appendFileSync } from "node:fs";
import { skipReason, TestEnv } from "./helpers.ts";
import { detectLayout } from "../../src/cgroup/index.ts";

const v1 = detectLayout().layout !== "v2";
const skip = skipReason() ?? (v1 ? undefined : "this test uses v1 key names and the host runs cgroup v2");
if (skip) console.warn(`SKIP cgroup: ${skip}`);
const it = skip ? test.skip : test;

describe("cgroups", () => {
  let t: TestEnv;
  beforeEach(() => {
    if (!skip) t = new TestEnv("cg");
  });
  afterEach(async () => {
    if (!skip) await t.close();
  });

  it("pids.max and cpuset from the config are enforced; lxt cgroup changes the memory limit live", () => {
    t.ok(["create", "-n", "g1", "-t", "busybox"]);
    appendFileSync(`${t.lxcpath}/g1/config`, "lxc.cgroup.cpuset.cpus = 0\nlxc.cgroup.pids.max = 10\n");
    t.ok(["start", "-n", "g1"]);
    expect(t.ok(["attach", "-n", "g1", "--", "grep", "Cpus_allowed_list", "/proc/self/status"])).toMatch(/Cpus_allowed_list:\s+0\n/);
    // forking past pids.max fails inside
    const fork = t.lxt(["attach", "-n", "g1", "--", "/bin/sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 1 & done; wait"]);
    expect(fork.stderr).toMatch(/can't fork|Resource temporarily unavailable/);
    expect(t.ok(["cgroup", "-n", "g1", "pids.max"]).trim()).toBe("10");
    t.ok(["cgroup", "-n", "g1", "memory.limit_in_bytes", "268435456"]);
    expect(t.ok(["cgroup", "-n", "g1", "memory.limit_in_bytes"]).trim()).toBe("268435456");
    const bad = t.lxt(["cgroup", "-n", "g1", "bogus.file"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("Failed to retrieve value of 'bogus.file'");
    t.ok(["stop", "-n", "g1", "-k"]);
    expect(t.lxt(["cgroup", "-n", "g1", "pids.max"]).stderr).toContain("is not running");
    t.ok(["destroy", "-n", "g1"]);
  });
});
