// The debian template for real: debootstrap from Debian's mirror into a cache
// (this test's own), a container booting its own systemd, the second create
// from the cache, DHCP on a managed bridge made here (10.231.10.0/24), a
// failing step that leaves nothing behind, and bad inputs that fail fast.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { LXT, skipReason, TestEnv, until } from "./helpers.ts";

const has = (tool: string) => Bun.spawnSync(["sh", "-c", `command -v ${tool}`]).exitCode === 0;
const skip = skipReason() ?? (has("debootstrap") ? undefined : "debootstrap is not installed (scripts/setup installs it)");
if (skip) console.warn(`SKIP debian: ${skip}`);
const it = skip ? test.skip : test;
const tag = (process.pid % 1000).toString().padStart(3, "0");
const arch = Bun.spawnSync(["dpkg", "--print-architecture"]).stdout.toString().trim();

/** lxt, run without blocking this process's event loop (the test's mirrors live in it). */
async function lxtAsync(t: TestEnv, args: string[], env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  const [cmd, ...rest] = args;
  const p = Bun.spawn([LXT, cmd!, "-P", t.lxcpath, ...rest], { env: t.env(env), stdout: "ignore", stderr: "pipe" });
  const [code, stderr] = await Promise.all([p.exited, new Response(p.stderr).text()]);
  return { code, stderr };
}

describe("debian template", () => {
  let t: TestEnv;
  beforeEach(() => {
    if (!skip) t = new TestEnv("deb");
  });
  afterEach(async () => {
    if (!skip) await t.close();
  });

  it("debootstraps once into the cache, boots systemd, takes an address by DHCP on a managed bridge, stops cleanly on SIGRTMIN+3 and boots again; the second create takes the cache", async () => {
    const br = `lxtd${tag}`;
    const env = { LXT_CACHE: `${t.dir}/cache`, LXT_NET_RUNDIR: `${t.dir}/net` };
    t.ok(["net", "start", "--bridge", br, "--subnet", "10.231.10.1/24"], { env });
    try {
      await bootAndCache(br, env);
    } finally {
      // whatever failed above, nothing stays up
      t.lxt(["stop", "-n", "d1", "-k"]);
      for (const n of ["d1", "d2"]) t.lxt(["destroy", "-n", n]);
      t.lxt(["net", "stop", "--bridge", br], { env });
    }
  }, 300_000); // debootstrap from the mirror, then two boots

  async function bootAndCache(br: string, env: Record<string, string>): Promise<void> {
    writeFileSync(`${t.dir}/net.conf`, `lxc.net.0.type = veth\nlxc.net.0.link = ${br}\nlxc.net.0.flags = up\nlxc.net.0.hwaddr = 00:16:3e:xx:xx:xx\n`);
    let t0 = performance.now();
    t.ok(["create", "-n", "d1", "-t", "debian", "-f", `${t.dir}/net.conf`], { env });
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
    // its own DHCP client (systemd-networkd) got a lease from the bridge's dnsmasq
    expect(await until(() => /^10\.231\.10\.\d+$/m.test(t.lxt(["info", "-n", "d1", "-i", "-H"]).stdout), 30_000)).toBe(true);
    const addr = t.ok(["info", "-n", "d1", "-i", "-H"]).trim().split("\n")[0]!;
    expect(readFileSync(`${t.dir}/net/${br}/dnsmasq.leases`, "utf8")).toContain(` ${addr} `);
    expect(Bun.spawnSync(["busybox", "ping", "-c1", "-W2", addr]).exitCode).toBe(0);
    // SIGRTMIN+3: systemd shuts down by itself, well before the 30 s after which lxt would SIGKILL it
    let t1 = performance.now();
    t.ok(["stop", "-n", "d1", "-t", "30"]);
    expect(performance.now() - t1).toBeLessThan(25_000);
    expect(t.ok(["info", "-n", "d1", "-s", "-H"]).trim()).toBe("STOPPED");
    // and it boots again
    t.ok(["start", "-n", "d1"], { env });
    expect(await until(() => ["running", "degraded"].includes(state()), 60_000)).toBe(true);
    t1 = performance.now();
    t.ok(["stop", "-n", "d1", "-t", "30"]);
    expect(performance.now() - t1).toBeLessThan(25_000);
    t.ok(["destroy", "-n", "d1"]);
    t.ok(["destroy", "-n", "d2"]);

  }

  it("a failing debootstrap says which step failed and leaves neither a container nor a partial cache", async () => {
    const env = { LXT_CACHE: `${t.dir}/cache` };
    // a step that fails says which, and leaves neither a container nor a partial cache:
    // a mirror that has the release's Release file but nothing else
    const mirror = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req) => (new URL(req.url).pathname === "/debian/dists/trixie/Release" ? new Response("Origin: nobody\n") : new Response("no", { status: 404 })),
    });
    try {
      const bad = await lxtAsync(t, ["create", "-n", "d3", "-t", "debian", "--", "-r", "trixie", "--mirror", `http://127.0.0.1:${mirror.port}/debian`], env);
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toContain(`debian template: debootstrap trixie (${arch}, minbase) from http://127.0.0.1:${mirror.port}/debian into the cache failed`);
      expect(existsSync(`${t.lxcpath}/d3`)).toBe(false);
      expect(existsSync(`${t.dir}/cache/debian`) ? readdirSync(`${t.dir}/cache/debian`) : []).toEqual([]);
    } finally {
      mirror.stop(true);
    }
  });

  it("bad inputs fail fast and clearly, before debootstrap: an unknown release, a mirror that refuses, one that never answers, one without the release; an unknown option", async () => {
    const env = { LXT_CACHE: `${t.dir}/cache` };
    const refused = async (args: string[], want: string, ms: number) => {
      const t0 = performance.now();
      const r = await lxtAsync(t, ["create", "-n", "b", "-t", "debian", "--", ...args], env);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(want);
      expect(performance.now() - t0).toBeLessThan(ms);
      expect(existsSync(`${t.lxcpath}/b`)).toBe(false);
      expect(existsSync(`${t.dir}/cache/debian`) ? readdirSync(`${t.dir}/cache/debian`) : []).toEqual([]);
    };
    await refused(["-r", "bookwrm"], "unknown release `bookwrm` (debootstrap has no script for it)", 5000);
    await refused(["--mirror", "http://127.0.0.1:9/debian"], "mirror http://127.0.0.1:9/debian: it does not answer", 5000);
    // accepts the connection, never answers
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      await refused(["--mirror", `http://127.0.0.1:${silent.port}/debian`], "it does not answer (no connection or no reply within 8 s)", 20_000);
    } finally {
      silent.stop(true);
    }
    const empty = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("no", { status: 404 }) });
    try {
      await refused(["-r", "trixie", "--mirror", `http://127.0.0.1:${empty.port}/debian`], "it has no trixie", 5000);
    } finally {
      empty.stop(true);
    }
    await refused(["--frob"], "unknown option `--frob`", 5000);
  });
});
