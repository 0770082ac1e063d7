// The cgroup v2 device controller: lxc.cgroup(2).devices.* compiled to an eBPF
// program that the monitor attaches to the container's cgroup. This hybrid
// host's cgroup2 mount has no controllers, but device programs need none:
// LXT_CGROUP_VERSION=2 puts the container there, and the kernel enforces.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { appendFileSync, existsSync, readdirSync, readFileSync } from "node:fs";
import { skipReason, TestEnv } from "./helpers.ts";

function v2Reason(): string | undefined {
  const mi = readFileSync("/proc/self/mountinfo", "utf8");
  if (!/ - cgroup2 /.test(mi)) return "no cgroup2 hierarchy is mounted on this host";
  return undefined;
}
const skip = skipReason() ?? v2Reason();
if (skip) console.warn(`SKIP cgroup-devices: ${skip}`);
const it = skip ? test.skip : test;

describe("cgroup v2 devices (eBPF)", () => {
  let t: TestEnv;
  beforeEach(() => {
    if (!skip) t = new TestEnv("dev");
  });
  afterEach(async () => {
    if (!skip) await t.close();
  });

  it("deny-all with exceptions: allowed nodes work, others fail with EPERM for open and mknod; per-access rules hold", () => {
    const env = { LXT_CGROUP_VERSION: "2" };
    t.ok(["create", "-n", "v", "-t", "busybox"]);
    appendFileSync(
      `${t.lxcpath}/v/config`,
      ["lxc.cgroup.devices.deny = a", "lxc.cgroup.devices.allow = c 1:* rwm", "lxc.cgroup.devices.allow = c 5:* rwm", "lxc.cgroup.devices.allow = c 136:* rwm", "lxc.cgroup2.devices.deny = c 1:8 w", "lxc.cgroup2.devices.allow = c 1:8 r", ""].join("\n"),
    );
    t.ok(["start", "-n", "v"], { env });
    const rec = JSON.parse(readFileSync(`${t.rundir}/${readdirSync(t.rundir)[0]}/v/cgroup.json`, "utf8"));
    expect(rec.version).toBe(2);
    expect(existsSync(rec.paths.unified)).toBe(true);
    const sh = (cmd: string) => t.lxt(["attach", "-n", "v", "--", "sh", "-c", cmd]);
    expect(sh("head -c1 /dev/urandom >/dev/null && echo ok").stdout.trim()).toBe("ok");
    expect(sh("mknod /dev/fuse c 10 229").stderr).toContain("Operation not permitted");
    expect(sh("mknod /dev/loop9 b 7 9").stderr).toContain("Operation not permitted");
    // c 1:8 (random): `deny c 1:8 w` had no exact exception to trim, then `allow c 1:8 r` adds one: reads work
    expect(sh("head -c1 /dev/random >/dev/null && echo ok").stdout.trim()).toBe("ok");
    t.ok(["stop", "-n", "v", "-k"]);
    expect(existsSync(rec.paths.unified)).toBe(false);

    // a rule that cannot be parsed stops the start with the key named, and nothing is left
    appendFileSync(`${t.lxcpath}/v/config`, "lxc.cgroup2.devices.allow = c 10:x rwm\n");
    const r = t.lxt(["start", "-n", "v"], { env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("cannot parse `c 10:x rwm`");
    t.ok(["destroy", "-n", "v"]);
  });
});
