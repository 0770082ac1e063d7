// lxt against LXC itself: a container made by the real lxc-create runs under
// lxt with its config untouched, and lxt invoked as lxc-* behaves as the tool.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { LXT, skipReason, TestEnv } from "./helpers.ts";

const skip = skipReason() ?? (existsSync("/usr/bin/lxc-create") ? undefined : "LXC is not installed (scripts/setup installs it)");
if (skip) console.warn(`SKIP lxc-compat: ${skip}`);
const it = skip ? test.skip : test;

describe("LXC compatibility", () => {
  let t: TestEnv;
  beforeEach(() => {
    if (!skip) t = new TestEnv("compat");
  });
  afterEach(async () => {
    if (!skip) await t.close();
  });

  it("a container made by lxc-create -t busybox runs under lxt -P, config untouched", () => {
    writeFileSync(`${t.dir}/netless.conf`, "lxc.net.0.type = empty\nlxc.apparmor.profile = unconfined\n");
    const c = Bun.spawnSync(["lxc-create", "-P", t.lxcpath, "-n", "made", "-t", "busybox", "-f", `${t.dir}/netless.conf`], { stdout: "pipe", stderr: "pipe" });
    expect(c.exitCode).toBe(0);
    const before = readFileSync(`${t.lxcpath}/made/config`, "utf8");
    t.ok(["start", "-n", "made"]);
    expect(t.ok(["attach", "-n", "made", "--", "hostname"]).trim()).toBe("made");
    expect(t.ok(["info", "-n", "made", "-s", "-H"]).trim()).toBe("RUNNING");
    t.ok(["stop", "-n", "made", "-t", "10"]);
    expect(readFileSync(`${t.lxcpath}/made/config`, "utf8")).toBe(before);
    // LXC sees it stopped too, and can destroy it
    const d = Bun.spawnSync(["lxc-destroy", "-P", t.lxcpath, "-n", "made"], { stdout: "pipe", stderr: "pipe" });
    expect(d.stderr.toString()).toBe("");
    expect(d.exitCode).toBe(0);
  });

  it("invoked through lxc-* links, lxt speaks LXC's options, output and exit codes", () => {
    const bin = `${t.dir}/bin`;
    const r = Bun.spawnSync([LXT, "compat-links", bin], { stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(0);
    expect(existsSync(`${bin}/lxc-start`)).toBe(true);
    const lx = (tool: string, ...args: string[]) => t.lxt(args, { argv0: `${bin}/lxc-${tool}` });
    expect(lx("create", "-n", "w1", "-t", "busybox").code).toBe(0);
    expect(lx("info", "-n", "w1").stdout).toBe("Name:           w1\nState:          STOPPED\n");
    expect(lx("info", "-n", "nosuch")).toMatchObject({ code: 1 });
    expect(lx("info", "-n", "nosuch").stderr).toContain("nosuch doesn't exist");
    expect(lx("info", "-n", "w1", "-c", "lxc.uts.name").stdout).toBe("lxc.uts.name = w1\n");
    expect(lx("info", "-n", "w1", "-c", "lxc.uts.name", "-H").stdout).toBe("w1\n");
    expect(lx("stop", "-n", "w1").code).toBe(2);
    expect(lx("stop", "-n", "w1", "-k", "-t", "5").code).toBe(1);
    expect(lx("start", "-n", "w1").code).toBe(0);
    expect(lx("wait", "-n", "w1", "-s", "RUNNING", "-t", "5").code).toBe(0);
    expect(lx("wait", "-n", "w1", "-s", "FROZEN", "-t", "1").code).toBe(1);
    expect(lx("attach", "-n", "w1", "--clear-env", "--", "env").stdout).toBe(
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\ncontainer=lxc\n",
    );
    expect(lx("ls", "-f").stdout).toMatch(/^NAME\s+STATE\s+AUTOSTART\s+GROUPS\s+IPV4\s+IPV6\s+UNPRIVILEGED\s*\nw1\s+RUNNING\s+0\s+-\s+-\s+-\s+false\s*\n$/);
    expect(lx("freeze", "-n", "w1").code).toBe(0);
    expect(lx("info", "-n", "w1", "-s").stdout).toBe("State:          FROZEN\n");
    expect(lx("unfreeze", "-n", "w1").code).toBe(0);
    expect(lx("stop", "-n", "w1", "-k").code).toBe(0);
    expect(lx("destroy", "-n", "w1").code).toBe(0);
    expect(lx("destroy", "-n", "w1").stderr).toContain("Container is not defined");
  });

  const script = "/usr/share/lxc/templates/lxc-busybox";
  if (!skip && !existsSync(script)) console.warn(`SKIP lxc template script: ${script} is not installed (lxc-templates)`);
  (skip || !existsSync(script) ? test.skip : test)("an LXC template script (Debian's lxc-busybox) runs as lxc-create runs it, and its container starts", () => {
    t.ok(["create", "-n", "sb", "-t", script]);
    t.ok(["create", "-n", "sb2", "-t", "/usr/share/lxc/templates/lxc-busybox"]);
    expect(existsSync(`${t.lxcpath}/sb/rootfs/bin/busybox`)).toBe(true);
    t.ok(["start", "-n", "sb"]);
    expect(t.ok(["attach", "-n", "sb", "--", "hostname"]).trim()).toBe("sb");
    t.ok(["stop", "-n", "sb", "-k"]);
    t.ok(["destroy", "-n", "sb"]);
    t.ok(["destroy", "-n", "sb2"]);
  });

  it("checkconfig (lxc-checkconfig): this host can run containers; every section and the unprivileged and LSM facts are reported", () => {
    const r = t.lxt(["checkconfig"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("All required features are present.");
    for (const s of ["--- Namespaces ---", "--- Control groups ---", "--- Misc ---", "--- Security ---", "--- Checkpoint/Restore ---"]) expect(r.stdout).toContain(s);
    expect(r.stdout).toMatch(/^Devpts multiple instances: enabled$/m);
    expect(r.stdout).toMatch(/^Cgroup namespace: enabled$/m);
    expect(r.stdout).toMatch(/^AppArmor: (enabled|missing)/m);
    expect(r.stdout).toMatch(/^newuidmap\/newgidmap setuid: /m);
  });
});
