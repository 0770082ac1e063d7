// The debian template for real: debootstrap from Debian's mirror into a cache
// (this test's own), a container booting its own systemd, the second create
// from the cache, and a failing step that leaves nothing behind.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { skipReason, TestEnv, until } from "./helpers.ts";

const has = (tool: string) => Bun.spawnSync(["sh", "-c", `command -v ${tool}`]).exitCode === 0;
const skip = skipReason() ?? (has("debootstrap") ? undefined : "debootstrap is not installed (scripts/setup installs it)");
if (skip) console.warn(`SKIP debian: ${skip}`);
const it = skip ? test.skip : test;

describe("debian template", () => {
  let t: TestEnv;
  beforeEach(() => {
    if (!skip) t = new TestEnv("deb");
  });
  afterEach(async () => {
    if (!skip) await t.close();
  });

  it("debootstraps once into the cache, boots systemd, stops on SIGRTMIN+3; the second create takes the cache", async () => {
    const env = { LXT_CACHE: `${t.dir}/cache` };
    let t0 = performance.now();
    t.ok(["create", "-n", "d1", "-t", "debian"], { env });
    const first = performance.now() - t0;
    expect(existsSync(`${t.dir}/cache/debian`)).toBe(true);
    expect(readdirSync(`${t.dir}/cache/debian`).some((d) => d.includes(".partial") || d.endsWith(".lock"))).toBe(false);
    t0 = performance.now();
    t.ok(["create", "-n", "d2", "-t", "debian"], { env });
    const second = performance.now() - t0;
    console.log(`debian: first create ${(first / 1000).toFixed(1)} s (debootstrap), second ${(second / 1000).toFixed(1)} s (cache)`);
    expect(second).toBeLessThan(first / 3);

    t.ok(["start", "-n", "d1"]);
    const state = () => t.lxt(["attach", "-n", "d1", "--", "systemctl", "is-system-running"]).stdout.trim();
    expect(await until(() => ["running", "degraded"].includes(state()), 60_000)).toBe(true);
    const failed = t.lxt(["attach", "-n", "d1", "--", "systemctl", "list-units", "--failed", "--no-legend", "--plain"]).stdout.trim();
    if (failed) console.log(`debian: failed units in the container:\n${failed}`);
    expect(state()).toBe("running");
    expect(t.ok(["attach", "-n", "d1", "--", "cat", "/etc/os-release"])).toContain('VERSION_CODENAME=bookworm');
    expect(t.ok(["attach", "-n", "d1", "--", "cat", "/proc/1/comm"]).trim()).toBe("systemd");
    expect(t.ok(["attach", "-n", "d1", "--", "hostname"]).trim()).toBe("d1");
    t.ok(["stop", "-n", "d1", "-t", "30"]); // SIGRTMIN+3: systemd shuts down by itself
    expect(t.ok(["info", "-n", "d1", "-s", "-H"]).trim()).toBe("STOPPED");
    t.ok(["destroy", "-n", "d1"]);
    t.ok(["destroy", "-n", "d2"]);

    // a step that fails says which, and leaves neither a container nor a partial cache
    const bad = t.lxt(["create", "-n", "d3", "-t", "debian", "--", "-r", "trixie", "--mirror", "http://127.0.0.1:9/debian"], { env });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("debian template: debootstrap trixie");
    expect(bad.stderr).toContain("failed");
    expect(existsSync(`${t.lxcpath}/d3`)).toBe(false);
    expect(readdirSync(`${t.dir}/cache/debian`).filter((d) => d.startsWith("trixie"))).toEqual([]);
    expect(t.lxt(["create", "-n", "d4", "-t", "debian", "--", "--frob"]).stderr).toContain("unknown option `--frob`");
  });
});
