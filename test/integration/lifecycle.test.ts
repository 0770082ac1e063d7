// The main job end to end, through the real CLI as a user types it:
// create -> start -> attach -> info -> stop -> destroy, and the bad inputs.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { skipReason, TestEnv, until } from "./helpers.ts";

const skip = skipReason();
if (skip) console.warn(`SKIP lifecycle: ${skip}`);
const it = skip ? test.skip : test;

describe("lifecycle", () => {
  let t: TestEnv;
  beforeEach(() => {
    if (!skip) t = new TestEnv("life");
  });
  afterEach(async () => {
    if (!skip) await t.close();
  });

  it("create busybox, start, attach, info, stop, destroy", async () => {
    t.ok(["create", "-n", "c1", "-t", "busybox"]);
    expect(existsSync(`${t.lxcpath}/c1/rootfs/bin/busybox`)).toBe(true);
    expect(t.ok(["info", "-n", "c1", "-s", "-H"]).trim()).toBe("STOPPED");

    t.ok(["start", "-n", "c1"]);
    expect(t.ok(["info", "-n", "c1", "-s", "-H"]).trim()).toBe("RUNNING");
    expect(t.ok(["attach", "-n", "c1", "--", "hostname"]).trim()).toBe("c1");
    expect(t.ok(["attach", "-n", "c1", "--", "cat", "/proc/1/cmdline"]).replaceAll("\0", " ").trim()).toBe("init");
    // ps in the container sees only the container: init is PID 1, nothing of the host.
    const ps = t.ok(["attach", "-n", "c1", "--", "ps", "-o", "pid,comm"]);
    const pids = ps.trim().split("\n").slice(1).map((l) => Number(l.trim().split(/\s+/)[0]));
    expect(pids).toContain(1);
    expect(Math.max(...pids)).toBeLessThan(50);
    expect(ps).not.toContain("bun");
    // exit codes pass through attach
    expect(t.lxt(["attach", "-n", "c1", "--", "/bin/sh", "-c", "exit 3"]).code).toBe(3);
    expect(t.lxt(["attach", "-n", "c1", "--", "/bin/sh", "-c", "kill -9 $$"]).code).toBe(137);

    const pid = Number(t.ok(["info", "-n", "c1", "-p", "-H"]).trim());
    expect(pid).toBeGreaterThan(1);
    expect(readFileSync(`/proc/${pid}/status`, "utf8")).toMatch(/NSpid:\s+\d+\s+1\n/);
    const info = t.ok(["info", "-n", "c1"]);
    expect(info).toMatch(/^Name:\s+c1$/m);
    expect(info).toMatch(/^State:\s+RUNNING$/m);
    expect(info).toMatch(/^PID:\s+\d+$/m);
    expect(info).toMatch(/^Memory use:\s+[\d.]+ (KiB|MiB|bytes)$/m);
    expect(t.ok(["ls", "--running"]).trim()).toBe("c1");
    expect(t.ok(["ls", "-f"])).toMatch(/^c1\s+RUNNING\s+0\s+-/m);

    // ps ties the host pid of init to the container
    expect(t.ok(["ps", "--pid", String(pid)]).trim()).toBe("c1");

    t.ok(["stop", "-n", "c1", "-t", "10"]);
    expect(t.ok(["info", "-n", "c1", "-s", "-H"]).trim()).toBe("STOPPED");
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    t.ok(["destroy", "-n", "c1"]);
    expect(existsSync(`${t.lxcpath}/c1`)).toBe(false);
  });

  it("execute propagates exit codes and leaves nothing behind", () => {
    t.ok(["create", "-n", "e1", "-t", "busybox"]);
    expect(t.lxt(["execute", "-n", "e1", "--", "/bin/true"]).code).toBe(0);
    expect(t.lxt(["execute", "-n", "e1", "--", "/bin/sh", "-c", "exit 7"]).code).toBe(7);
    const sig = t.lxt(["execute", "-n", "e1", "--", "/bin/sh", "-c", "kill -9 $$"]);
    expect(sig.code).toBe(137);
    // the command is PID 2 under a minimal init, as with lxc-execute
    expect(t.ok(["execute", "-n", "e1", "--", "/bin/sh", "-c", "echo $$"]).trim()).toBe("2");
    expect(t.ok(["execute", "-n", "e1", "-s", "lxc.uts.name=defined", "--", "hostname"]).trim()).toBe("defined");
    expect(t.ok(["info", "-n", "e1", "-s", "-H"]).trim()).toBe("STOPPED");
  });

  it("stop -k, kill of init, and SIGKILL of the monitor all end in STOPPED with nothing left", async () => {
    t.ok(["create", "-n", "k1", "-t", "busybox"]);
    t.ok(["start", "-n", "k1"]);
    t.ok(["stop", "-n", "k1", "-k"]);
    expect(t.ok(["info", "-n", "k1", "-s", "-H"]).trim()).toBe("STOPPED");

    t.ok(["start", "-n", "k1"]);
    const pid = Number(t.ok(["info", "-n", "k1", "-p", "-H"]).trim());
    process.kill(pid, 9);
    expect(await until(() => t.ok(["info", "-n", "k1", "-s", "-H"]).trim() === "STOPPED")).toBe(true);
    expect(await until(() => Bun.spawnSync(["find", t.rundir, "-path", "*/k1/state"]).stdout.toString() === "")).toBe(true);

    t.ok(["start", "-n", "k1"]);
    const stateFile = Bun.spawnSync(["find", t.rundir, "-name", "state", "-path", "*/k1/*"]).stdout.toString().trim();
    // state file: "STATE INITPID MONITORPID MONITORSTART EXIT"
    const monitor = Number(readFileSync(stateFile, "utf8").split(" ")[2]);
    const init = Number(t.ok(["info", "-n", "k1", "-p", "-H"]).trim());
    expect(monitor).toBeGreaterThan(1);
    process.kill(monitor, 9);
    expect(await until(() => !existsSync(`/proc/${init}`))).toBe(true);
    expect(t.ok(["info", "-n", "k1", "-s", "-H"]).trim()).toBe("STOPPED");
    expect(t.lxt(["ls", "--running"]).stdout.trim()).toBe("");
    // stop tells the truth (not running, exit 2) and cleans the stale run
    expect(t.lxt(["stop", "-n", "k1"]).code).toBe(2);
    // and a new start works
    t.ok(["start", "-n", "k1"]);
    t.ok(["destroy", "-n", "k1", "-f"]);
  });

  it("mount entries: create=dir, ro bind enforced, and a symlinked target stays inside the rootfs", () => {
    t.ok(["create", "-n", "m1", "-t", "busybox"]);
    const r = `${t.lxcpath}/m1/rootfs`;
    mkdirSync(`${t.dir}/hostside`);
    writeFileSync(`${t.dir}/hostside/marker`, "host");
    mkdirSync(`${r}${t.dir}/hostside`, { recursive: true });
    // a symlink in the rootfs pointing at a host path: resolved inside the rootfs, never on the host
    symlinkSync(`${t.dir}/hostside`, `${r}/escape`);
    appendFileSync(`${t.lxcpath}/m1/config`, `lxc.mount.entry = none escape tmpfs defaults 0 0\nlxc.mount.entry = ${t.dir}/hostside mnt/ro none ro,bind,create=dir 0 0\n`);
    t.ok(["start", "-n", "m1"]);
    const mi = t.ok(["attach", "-n", "m1", "--", "cat", "/proc/self/mountinfo"]);
    expect(mi).toContain(` ${t.dir}/hostside rw`);
    expect(t.ok(["attach", "-n", "m1", "--", "cat", "/mnt/ro/marker"])).toBe("host");
    const w = t.lxt(["attach", "-n", "m1", "--", "/bin/sh", "-c", "echo x > /mnt/ro/new"]);
    expect(w.code).not.toBe(0);
    expect(w.stderr).toContain("Read-only file system");
    t.ok(["stop", "-n", "m1", "-k"]);
    expect(readdirSync(`${t.dir}/hostside`)).toEqual(["marker"]);
  });

  it("a rootfs whose /proc, /dev or /dev/console is a symlink to a host path is refused, and the host path is untouched", () => {
    const victim = `${t.dir}/victim`;
    mkdirSync(victim);
    for (const [rel, extra] of [["proc", ""], ["dev", "lxc.autodev = 1\n"], ["dev/console", "lxc.autodev = 0\n"]] as const) {
      const name = `s${rel.replace("/", "")}`;
      t.ok(["create", "-n", name, "-t", "busybox"]);
      const rootfs = `${t.lxcpath}/${name}/rootfs`;
      Bun.spawnSync(["rm", "-rf", `${rootfs}/${rel}`]);
      symlinkSync(rel === "dev/console" ? `${victim}/console` : victim, `${rootfs}/${rel}`);
      appendFileSync(`${t.lxcpath}/${name}/config`, extra);
      const r = t.lxt(["start", "-n", name]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`\`${rel}\` in the rootfs: it is, or passes through, a symbolic link`);
      expect(readdirSync(victim)).toEqual([]); // nothing created on the host through the link
      expect(t.ok(["info", "-n", name, "-s", "-H"]).trim()).toBe("STOPPED");
      t.ok(["destroy", "-n", name]);
    }
  });

  it("bad inputs: clear message, non-zero exit, nothing left behind", () => {
    const dup = t.lxt(["create", "-n", "d1", "-t", "busybox"]);
    expect(dup.code).toBe(0);
    let r = t.lxt(["create", "-n", "d1", "-t", "busybox"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Container already exists");

    r = t.lxt(["create", "-n", "bad/name", "-t", "busybox"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("invalid container name");

    r = t.lxt(["create", "-n", "n1", "-t", "nosuchtemplate"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("template `nosuchtemplate` not found");
    expect(existsSync(`${t.lxcpath}/n1`)).toBe(false);

    // unknown key in -f: file:line and a suggestion; nothing created
    writeFileSync(`${t.dir}/bad.conf`, "lxc.uts.name = x\nlxc.utsnam = y\n");
    r = t.lxt(["create", "-n", "n2", "-t", "busybox", "-f", `${t.dir}/bad.conf`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${t.dir}/bad.conf:2`);
    expect(r.stderr).toContain("lxc.uts.name");
    expect(existsSync(`${t.lxcpath}/n2`)).toBe(false);

    // a bad value and a malformed line in the container's own config refuse the start
    writeFileSync(`${t.lxcpath}/d1/config`, readFileSync(`${t.lxcpath}/d1/config`, "utf8") + "lxc.tty.max = -1\n");
    r = t.lxt(["start", "-n", "d1"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/config:\d+: lxc\.tty\.max/);
    writeFileSync(`${t.lxcpath}/d1/config`, readFileSync(`${t.lxcpath}/d1/config`, "utf8").replace("lxc.tty.max = -1\n", "lxc.autodev\n"));
    r = t.lxt(["start", "-n", "d1"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/config:\d+/);
    writeFileSync(`${t.lxcpath}/d1/config`, readFileSync(`${t.lxcpath}/d1/config`, "utf8").replace("lxc.autodev\n", ""));

    // attach to a stopped container
    r = t.lxt(["attach", "-n", "d1", "--", "/bin/true"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("not running");

    // start of a container that does not exist
    r = t.lxt(["start", "-n", "nosuch"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("No container config specified");

    // a pre-start hook that fails aborts the start and releases everything
    writeFileSync(`${t.lxcpath}/d1/config`, readFileSync(`${t.lxcpath}/d1/config`, "utf8") + "lxc.hook.pre-start = /bin/sh -c 'echo nope >&2; exit 3'\n");
    r = t.lxt(["start", "-n", "d1"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("pre-start hook");
    expect(r.stderr).toContain("status 3");
    expect(t.ok(["info", "-n", "d1", "-s", "-H"]).trim()).toBe("STOPPED");
    expect(Bun.spawnSync(["find", t.rundir, "-path", "*/d1/*"]).stdout.toString()).toBe("");
    writeFileSync(`${t.lxcpath}/d1/config`, readFileSync(`${t.lxcpath}/d1/config`, "utf8").replace(/lxc\.hook\.pre-start.*\n/, ""));

    // missing rootfs
    writeFileSync(`${t.lxcpath}/d1/config`, readFileSync(`${t.lxcpath}/d1/config`, "utf8").replace(/lxc\.rootfs\.path = .*/, `lxc.rootfs.path = dir:${t.dir}/gone`));
    r = t.lxt(["start", "-n", "d1"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`rootfs \`${t.dir}/gone\` does not exist`);

    // a running container: start again says so (exit 0 like lxc-start), destroy refuses without -f
    writeFileSync(`${t.lxcpath}/d1/config`, readFileSync(`${t.lxcpath}/d1/config`, "utf8").replace(`dir:${t.dir}/gone`, `dir:${t.lxcpath}/d1/rootfs`));
    t.ok(["start", "-n", "d1"]);
    r = t.lxt(["start", "-n", "d1"]);
    expect(r.stderr).toContain("Container is already running");
    r = t.lxt(["destroy", "-n", "d1"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("is running");
    t.ok(["destroy", "-n", "d1", "-f"]);
  });
});
