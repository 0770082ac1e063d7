// The monitor and the start sequence beyond the basics: the console and its
// log, the control socket (STOPPING), hooks inside the container and the
// start-host hook at the host sync point, shared namespaces, user namespaces
// with id maps, lxc.mount.fstab.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { appendFileSync, chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { LXT, ROOT, skipReason, TestEnv, until } from "./helpers.ts";

const skip = skipReason();
if (skip) console.warn(`SKIP runtime: ${skip}`);
const it = skip ? test.skip : test;

/** Runs `lxt console` with input written slowly (after the banner), returns its output. */
async function consoleSession(t: TestEnv, args: string[], input: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn([LXT, "console", "-P", t.lxcpath, ...args], { env: t.env(), stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  for (const chunk of input) {
    await Bun.sleep(300);
    p.stdin.write(chunk);
    await p.stdin.flush();
  }
  const timer = setTimeout(() => p.kill(9), 10_000);
  const code = await p.exited;
  clearTimeout(timer);
  return { code, out: await new Response(p.stdout).text(), err: await new Response(p.stderr).text() };
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  for (const e of readdirSync(path, { withFileTypes: true })) {
    const p = `${path}/${e.name}`;
    if (e.isDirectory()) chownTree(p, uid, gid);
    else Bun.spawnSync(["chown", "-h", `${uid}:${gid}`, p]);
  }
}

describe("runtime", () => {
  let t: TestEnv;
  beforeEach(() => {
    if (!skip) t = new TestEnv("rt");
  });
  afterEach(async () => {
    if (!skip) await t.close();
  });

  it("the native front serves a plain attach (same environment and exit status) and stop -k without Bun; everything else goes to the full CLI", async () => {
    t.ok(["create", "-n", "f", "-t", "busybox"]);
    appendFileSync(`${t.lxcpath}/f/config`, "lxc.environment = FROMCONFIG=yes\n");
    t.ok(["start", "-n", "f"]);
    // a front alone, without dist/lxt-bun beside it: only what it serves itself works
    const lone = `${t.dir}/front`;
    mkdirSync(lone);
    copyFileSync(LXT, `${lone}/lxt`);
    chmodSync(`${lone}/lxt`, 0o755);
    const run = (args: string[], env: Record<string, string> = {}) => {
      const p = Bun.spawnSync([`${lone}/lxt`, ...args], { env: t.env(env), stdout: "pipe", stderr: "pipe" });
      return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
    };
    const a = run(["attach", "-P", t.lxcpath, "-n", "f", "--", "sh", "-c", "echo $container $FROMCONFIG $CALLER; exit 7"], { CALLER: "kept" });
    expect(a.out).toBe("lxc yes kept\n");
    expect(a.code).toBe(7);
    // the same through the full CLI, for comparison
    const full = t.lxt(["attach", "-n", "f", "-v", "X=1", "--", "sh", "-c", "echo $container $FROMCONFIG $X"]);
    expect(full.stdout).toBe("lxc yes 1\n");
    // not served natively: another option, another command, a stopped container
    for (const args of [["attach", "-P", t.lxcpath, "-n", "f", "-v", "X=1", "--", "true"], ["info", "-P", t.lxcpath, "-n", "f"]]) {
      const r = run(args);
      expect(r.code).toBe(127);
      expect(r.err).toContain(`cannot run ${lone}/lxt-bun`);
    }
    // stop -k is served too: through the monitor's socket, done when the monitor has cleaned up;
    // a frozen container is thawed by its monitor to be killed
    t.ok(["freeze", "-n", "f"]);
    expect(t.ok(["info", "-n", "f", "-s", "-H"]).trim()).toBe("FROZEN");
    const k = run(["stop", "-P", t.lxcpath, "-n", "f", "-k"]);
    expect(k.err).toBe("");
    expect(k.code).toBe(0);
    expect(t.ok(["info", "-n", "f", "-s", "-H"]).trim()).toBe("STOPPED");
    expect(readdirSync(t.rundir).flatMap((d) => readdirSync(`${t.rundir}/${d}`))).not.toContain("f"); // its run dir is gone
    expect(run(["attach", "-P", t.lxcpath, "-n", "f", "--", "true"]).err).toContain("lxt-bun");
    expect(run(["stop", "-P", t.lxcpath, "-n", "f", "-k"]).err).toContain("lxt-bun");
    // a monitor killed with SIGKILL (a zombie until this host's slow reaper takes it): not served
    t.ok(["start", "-n", "f"]);
    const mon = Number(readFileSync(`${readdirSync(t.rundir).map((d) => `${t.rundir}/${d}/f/state`).find((p) => existsSync(p))!}`, "utf8").split(" ")[2]);
    process.kill(mon, "SIGKILL");
    await until(() => !existsSync(`/proc/${mon}`) || /\) [ZX] /.test(readFileSync(`/proc/${mon}/stat`, "utf8")));
    expect(run(["attach", "-P", t.lxcpath, "-n", "f", "--", "true"]).err).toContain("lxt-bun");
    expect(t.lxt(["attach", "-n", "f", "--", "true"]).stderr).toContain("f is not running");
    expect(t.lxt(["attach", "-n", "f", "--", "true"]).stderr).toContain("f is not running");
    t.ok(["destroy", "-n", "f"]);
  });

  it("console: attach to /dev/console and a tty, Ctrl+a q leaves, output logged to lxc.console.logfile", async () => {
    t.ok(["create", "-n", "c", "-t", "busybox"]);
    const log = `${t.dir}/console.log`;
    appendFileSync(`${t.lxcpath}/c/config`, `lxc.console.logfile = ${log}\n`);
    t.ok(["start", "-n", "c"]);

    const s = await consoleSession(t, ["-n", "c", "-t", "0"], ["echo con$((6*7))sole\n", "\x01q"]);
    expect(s.code).toBe(0);
    expect(s.err).toContain("Connected to tty 0");
    expect(s.out).toContain("con42sole"); // the shell on the console ran it
    expect(await until(() => existsSync(log) && readFileSync(log, "utf8").includes("con42sole"))).toBe(true);

    // default: the first free tty (tty1, where the template runs a getty)
    const s1 = await consoleSession(t, ["-n", "c"], ["\n", "\x01q"]);
    expect(s1.code).toBe(0);
    expect(s1.err).toContain("Connected to tty 1");
    expect(s1.out).toContain("login:"); // the getty on tty1 answers
    // a custom escape: Ctrl+b q leaves, Ctrl+a passes through
    const sb = await consoleSession(t, ["-n", "c", "-t", "0", "-e", "b"], ["\x02q"]);
    expect(sb.code).toBe(0);
    expect(sb.err).toContain("Ctrl+b q");

    const bad = await consoleSession(t, ["-n", "c", "-t", "7"], []);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("tty 7 does not exist");
    const badEsc = t.lxt(["console", "-n", "c", "-e", "1"]);
    expect(badEsc.code).not.toBe(0);
    expect(badEsc.stderr).toContain("invalid escape character");

    // one console per tty: a second client is refused while the first is attached
    const first = Bun.spawn([LXT, "console", "-P", t.lxcpath, "-n", "c", "-t", "0"], { env: t.env(), stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    await Bun.sleep(400);
    const busy = await consoleSession(t, ["-n", "c", "-t", "0"], []);
    expect(busy.code).toBe(1);
    expect(busy.err).toContain("busy");
    first.stdin.write("\x01q");
    await first.stdin.flush();
    expect(await first.exited).toBe(0);

    t.ok(["stop", "-n", "c", "-k"]);
    const stopped = await consoleSession(t, ["-n", "c"], []);
    expect(stopped.code).not.toBe(0);
    expect(stopped.err).toContain("not running");
    t.ok(["destroy", "-n", "c"]);
  });

  it("start -F: the terminal is the console; the command returns when init ends", async () => {
    t.ok(["create", "-n", "f", "-t", "busybox"]);
    const p = Bun.spawn([LXT, "start", "-P", t.lxcpath, "-n", "f", "-F"], { env: t.env(), stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    await Bun.sleep(500);
    p.stdin.write("echo fg$((40+2))\n");
    await p.stdin.flush();
    await Bun.sleep(300);
    p.stdin.write("poweroff -f\n"); // reboot(2) in a pid namespace ends init
    await p.stdin.flush();
    const timer = setTimeout(() => p.kill(9), 10_000);
    expect(await p.exited).toBe(0);
    clearTimeout(timer);
    expect(await new Response(p.stdout).text()).toContain("fg42");
    expect(t.ok(["info", "-n", "f", "-s", "-H"]).trim()).toBe("STOPPED");
    t.ok(["destroy", "-n", "f"]);
  });

  it("stop goes through the monitor: STOPPING while init ignores the halt signal, then SIGKILL after -t", async () => {
    t.ok(["create", "-n", "s", "-t", "busybox"]);
    // PID 1 of a pid namespace ignores signals it has no handler for: sleep ignores SIGPWR
    appendFileSync(`${t.lxcpath}/s/config`, "lxc.init.cmd = /bin/sleep 1000\n");
    t.ok(["start", "-n", "s"]);
    const stopper = Bun.spawn([LXT, "stop", "-P", t.lxcpath, "-n", "s", "-t", "2"], { env: t.env(), stdout: "pipe", stderr: "pipe" });
    expect(await until(() => t.lxt(["info", "-n", "s", "-s", "-H"]).stdout.trim() === "STOPPING", 1800)).toBe(true);
    expect(await stopper.exited).toBe(0);
    expect(t.ok(["info", "-n", "s", "-s", "-H"]).trim()).toBe("STOPPED");
    t.ok(["destroy", "-n", "s"]);
  });

  it("hooks: pre-mount, mount and autodev run in the container's mount namespace, start inside it, start-host on the host with LXC_PID", async () => {
    t.ok(["create", "-n", "h", "-t", "busybox"]);
    const out = `${t.dir}/hooks.out`;
    const hook = (name: string, body: string) => {
      const p = `${t.dir}/${name}.sh`;
      writeFileSync(p, `#!/bin/sh\n${body}\n`);
      chmodSync(p, 0o755);
      return p;
    };
    // mount: the rootfs is mounted (a marker written there is seen inside); start: runs inside
    appendFileSync(
      `${t.lxcpath}/h/config`,
      [
        `lxc.hook.version = 1`,
        `lxc.hook.pre-mount = ${hook("premount", `echo "pre-mount $LXC_NAME $LXC_HOOK_TYPE" >> ${out}`)}`,
        `lxc.hook.mount = ${hook("mount", `echo "mount $LXC_HOOK_TYPE $LXC_ROOTFS_MOUNT" >> ${out}; echo from-mount-hook > $LXC_ROOTFS_MOUNT/tmp/mount-hook`)}`,
        `lxc.hook.autodev = ${hook("autodev", `echo "autodev $LXC_HOOK_TYPE" >> ${out}; test -c $LXC_ROOTFS_MOUNT/dev/null && echo devnull-ok >> ${out}`)}`,
        `lxc.hook.start = /bin/sh -c "hostname > /tmp/start-hook; echo $$ >> /tmp/start-hook"`,
        `lxc.hook.start-host = ${hook("starthost", `echo "start-host $LXC_HOOK_TYPE pid=$LXC_PID" >> ${out}`)}`,
        "",
      ].join("\n"),
    );
    t.ok(["start", "-n", "h"]);
    const lines = readFileSync(out, "utf8").trim().split("\n");
    expect(lines[0]).toBe("pre-mount h pre-mount");
    expect(lines[1]).toBe(`mount mount ${t.lxcpath}/h/rootfs`);
    expect(lines.slice(2, 4)).toEqual(["autodev autodev", "devnull-ok"]);
    const pid = Number(t.ok(["info", "-n", "h", "-p", "-H"]).trim());
    expect(lines[4]).toBe(`start-host start-host pid=${pid}`);
    expect(t.ok(["attach", "-n", "h", "--", "cat", "/tmp/mount-hook"]).trim()).toBe("from-mount-hook");
    // the start hook ran inside: it saw the container's hostname, in its pid namespace (a small pid)
    const [host, hpid] = t.ok(["attach", "-n", "h", "--", "cat", "/tmp/start-hook"]).trim().split("\n");
    expect(host).toBe("h");
    expect(Number(hpid)).toBeLessThan(20);
    t.ok(["stop", "-n", "h", "-k"]);

    // a failing start hook aborts the start with its message; nothing is left
    appendFileSync(`${t.lxcpath}/h/config`, "lxc.hook.start = /bin/sh -c 'exit 4'\n");
    const r = t.lxt(["start", "-n", "h"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("start hook");
    expect(r.stderr).toContain("exited with status 4");
    expect(t.ok(["info", "-n", "h", "-s", "-H"]).trim()).toBe("STOPPED");
    // a failing start-host hook too
    writeFileSync(`${t.dir}/starthost.sh`, "#!/bin/sh\necho no-way >&2\nexit 5\n");
    const config = readFileSync(`${t.lxcpath}/h/config`, "utf8").replace("lxc.hook.start = /bin/sh -c 'exit 4'\n", "");
    writeFileSync(`${t.lxcpath}/h/config`, config);
    const r2 = t.lxt(["start", "-n", "h"]);
    expect(r2.code).not.toBe(0);
    expect(r2.stderr).toContain("start-host hook");
    expect(r2.stderr).toContain("no-way");
    expect(t.ok(["info", "-n", "h", "-s", "-H"]).trim()).toBe("STOPPED");
    t.ok(["destroy", "-n", "h"]);
  });

  it("lxc.namespace.share: a second container joins the first one's net and uts namespaces", async () => {
    t.ok(["create", "-n", "a", "-t", "busybox"]);
    t.ok(["create", "-n", "b", "-t", "busybox"]);
    appendFileSync(`${t.lxcpath}/b/config`, "lxc.namespace.share.net = a\nlxc.namespace.share.uts = a\n");
    const r = t.lxt(["start", "-n", "b"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("container `a` is not running");
    t.ok(["start", "-n", "a"]);
    t.ok(["start", "-n", "b"]);
    const pa = Number(t.ok(["info", "-n", "a", "-p", "-H"]).trim());
    const pb = Number(t.ok(["info", "-n", "b", "-p", "-H"]).trim());
    const ino = (pid: number, ns: string) => statSync(`/proc/${pid}/ns/${ns}`).ino;
    expect(ino(pb, "net")).toBe(ino(pa, "net"));
    expect(ino(pb, "uts")).toBe(ino(pa, "uts"));
    expect(ino(pb, "mnt")).not.toBe(ino(pa, "mnt"));
    expect(ino(pb, "pid")).not.toBe(ino(pa, "pid"));
    expect(t.ok(["attach", "-n", "b", "--", "hostname"]).trim()).toBe("a");
    t.ok(["stop", "-n", "b", "-k"]);
    t.ok(["stop", "-n", "a", "-k"]);
    t.ok(["destroy", "-n", "a"]);
    t.ok(["destroy", "-n", "b"]);
  });

  it("user namespace: lxc.idmap maps are written before init runs; root inside is a mapped host uid", async () => {
    chmodSync(t.dir, 0o755);
    t.ok(["create", "-n", "u", "-t", "busybox"]);
    chmodSync(t.lxcpath, 0o755);
    appendFileSync(`${t.lxcpath}/u/config`, "lxc.idmap = u 0 200000 65536\nlxc.idmap = g 0 200000 65536\n");
    chownTree(`${t.lxcpath}/u/rootfs`, 200000, 200000);
    // the container dir is 0750 root:root: the mapped root cannot reach its rootfs
    const r = t.lxt(["start", "-n", "u"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("not searchable by the container's root (host uid 200000");
    chmodSync(`${t.lxcpath}/u`, 0o751);
    t.ok(["start", "-n", "u"]);
    expect(t.ok(["attach", "-n", "u", "--", "cat", "/proc/self/uid_map"]).trim().split(/\s+/)).toEqual(["0", "200000", "65536"]);
    expect(t.ok(["attach", "-n", "u", "--", "cat", "/proc/self/gid_map"]).trim().split(/\s+/)).toEqual(["0", "200000", "65536"]);
    expect(t.ok(["attach", "-n", "u", "--", "id", "-u"]).trim()).toBe("0");
    const pid = Number(t.ok(["info", "-n", "u", "-p", "-H"]).trim());
    expect(readFileSync(`/proc/${pid}/status`, "utf8")).toMatch(/^Uid:\s+200000\s/m);
    // root inside is not root outside: the host's files stay out of reach
    expect(t.lxt(["attach", "-n", "u", "--", "sh", "-c", "echo x > /proc/sys/kernel/hostname"]).code).not.toBe(0);
    t.ok(["stop", "-n", "u", "-k"]);

    // a user namespace without maps is refused with the fix
    writeFileSync(`${t.lxcpath}/u/config`, readFileSync(`${t.lxcpath}/u/config`, "utf8").replace(/lxc\.idmap = g .*\n/, ""));
    const r2 = t.lxt(["start", "-n", "u"]);
    expect(r2.code).not.toBe(0);
    expect(r2.stderr).toContain("needs both a uid and a gid map");
    t.ok(["destroy", "-n", "u"]);
  });

  it("lxc.mount.auto cgroup:mixed / cgroup:ro: the container's own cgroups under /sys/fs/cgroup", async () => {
    t.ok(["create", "-n", "g", "-t", "busybox"]); // the template asks for cgroup:mixed
    t.ok(["start", "-n", "g"]);
    const mounts = t.ok(["attach", "-n", "g", "--", "cat", "/proc/mounts"]);
    expect(mounts).toMatch(/^cgroup \/sys\/fs\/cgroup tmpfs ro,/m);
    expect(mounts).toMatch(/^cgroup \/sys\/fs\/cgroup\/pids cgroup rw,/m);
    // the mount's root is the container's cgroup: init is in it, no host process is
    const procs = t.ok(["attach", "-n", "g", "--", "cat", "/sys/fs/cgroup/pids/cgroup.procs"]).trim().split("\n").map(Number);
    expect(procs).toContain(1);
    expect(Math.max(...procs)).toBeLessThan(100);
    expect(t.lxt(["attach", "-n", "g", "--", "mkdir", "/sys/fs/cgroup/x"]).code).not.toBe(0); // mixed: the tmpfs is read-only
    expect(t.lxt(["attach", "-n", "g", "--", "mkdir", "/sys/fs/cgroup/pids/sub"]).code).toBe(0); // its own hierarchy is writable
    expect(t.lxt(["attach", "-n", "g", "--", "rmdir", "/sys/fs/cgroup/pids/sub"]).code).toBe(0);
    t.ok(["stop", "-n", "g", "-k"]);
    writeFileSync(`${t.lxcpath}/g/config`, readFileSync(`${t.lxcpath}/g/config`, "utf8").replace("cgroup:mixed", "cgroup:ro"));
    t.ok(["start", "-n", "g"]);
    expect(t.ok(["attach", "-n", "g", "--", "cat", "/proc/mounts"])).toMatch(/^cgroup \/sys\/fs\/cgroup\/pids cgroup ro,/m);
    expect(t.lxt(["attach", "-n", "g", "--", "mkdir", "/sys/fs/cgroup/pids/sub"]).code).not.toBe(0);
    t.ok(["stop", "-n", "g", "-k"]);
    t.ok(["destroy", "-n", "g"]);
  });

  it("stop -r reboots: init ends, the monitor's cleanup starts the container again", async () => {
    t.ok(["create", "-n", "r", "-t", "busybox"]);
    t.ok(["start", "-n", "r"]);
    const before = Number(t.ok(["info", "-n", "r", "-p", "-H"]).trim());
    t.ok(["stop", "-n", "r", "-r", "-t", "20"]);
    expect(t.ok(["info", "-n", "r", "-s", "-H"]).trim()).toBe("RUNNING");
    const after = Number(t.ok(["info", "-n", "r", "-p", "-H"]).trim());
    expect(after).not.toBe(before);
    expect(existsSync(`/proc/${before}`)).toBe(false);
    expect(t.ok(["attach", "-n", "r", "--", "hostname"]).trim()).toBe("r");
    t.ok(["stop", "-n", "r", "-k"]);
    t.ok(["destroy", "-n", "r"]);
  });

  it("execute without a container: -f CONFIG with no rootfs shares the host's root in new namespaces; nothing is left", async () => {
    const conf = `${t.dir}/app.conf`;
    writeFileSync(conf, "lxc.uts.name = app\nlxc.mount.auto = proc:mixed\n");
    const r = t.lxt(["execute", "-n", "app", "-f", conf, "--", "/bin/sh", "-c", "hostname; cat /proc/1/comm; exit 3"]);
    expect(r.code).toBe(3);
    expect(r.stdout.trim().split("\n")).toEqual(["app", "lxt-shim"]);
    expect(existsSync(`${t.lxcpath}/app`)).toBe(false);
    expect(readdirSync(t.rundir).flatMap((d) => readdirSync(`${t.rundir}/${d}`))).toEqual([]); // no run dir left
  });

  it("lxc.time.offset.*, lxc.arch, lxc.rootfs.options reach the container", async () => {
    t.ok(["create", "-n", "k", "-t", "busybox"]);
    appendFileSync(`${t.lxcpath}/k/config`, "lxc.time.offset.boot = 1000h\nlxc.time.offset.monotonic = -5s\nlxc.arch = i686\nlxc.rootfs.options = nosuid,nodev\n");
    t.ok(["start", "-n", "k"]);
    const uptime = Number(t.ok(["attach", "-n", "k", "--", "cut", "-d", " ", "-f1", "/proc/uptime"]).trim());
    expect(uptime).toBeGreaterThan(3600000);
    expect(t.ok(["attach", "-n", "k", "--", "cat", "/proc/self/timens_offsets"]).replace(/\s+/g, " ").trim()).toBe("monotonic -5 0 boottime 3600000 0");
    expect(t.ok(["attach", "-n", "k", "--", "uname", "-m"]).trim()).toBe("i686"); // attach takes the container's personality
    const pid = Number(t.ok(["info", "-n", "k", "-p", "-H"]).trim());
    expect(readFileSync(`/proc/${pid}/personality`, "utf8").trim()).toBe("00000008");
    expect(t.ok(["attach", "-n", "k", "--", "grep", " / ", "/proc/mounts"])).toMatch(/nosuid,nodev/);
    t.ok(["stop", "-n", "k", "-k"]);
    t.ok(["destroy", "-n", "k"]);
  });

  it("logging: -o/-l on the command line, lxc.log.file/level in the config; errors are logged too", async () => {
    t.ok(["create", "-n", "l", "-t", "busybox"]);
    const cli = `${t.dir}/cli.log`;
    t.ok(["start", "-n", "l", "-o", cli, "-l", "INFO"]);
    const text = readFileSync(cli, "utf8");
    expect(text).toMatch(/^lxt-start l \d{14}\.\d{3} INFO {5}start - config /m);
    expect(text).toMatch(/NOTICE +start - init is running as pid \d+/);
    expect(text).not.toContain("DEBUG");
    t.ok(["stop", "-n", "l", "-k"]);
    const conf = `${t.dir}/conf.log`;
    appendFileSync(`${t.lxcpath}/l/config`, `lxc.log.file = ${conf}\nlxc.log.level = DEBUG\n`);
    t.ok(["start", "-n", "l"]);
    expect(readFileSync(conf, "utf8")).toMatch(/DEBUG +cgroup - created /);
    t.ok(["stop", "-n", "l", "-k"]);
    // a failed start is logged at ERROR
    writeFileSync(`${t.lxcpath}/l/config`, readFileSync(`${t.lxcpath}/l/config`, "utf8") + "lxc.hook.pre-start = /bin/false\n");
    expect(t.lxt(["start", "-n", "l", "-o", cli]).code).not.toBe(0);
    expect(readFileSync(cli, "utf8")).toMatch(/ERROR +start - failed: pre-start hook `\/bin\/false` exited with status 1/);
    const bad = t.lxt(["start", "-n", "l", "-l", "LOUD"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("invalid log priority `LOUD`");
    t.ok(["destroy", "-n", "l"]);
  });

  it("lxt device: a host device node and a network interface go into a running container and come back out", async () => {
    t.ok(["create", "-n", "d", "-t", "busybox"]);
    appendFileSync(`${t.lxcpath}/d/config`, ["lxc.cgroup.devices.deny = a", "lxc.cgroup.devices.allow = c 1:* rwm", "lxc.cgroup.devices.allow = c 5:* rwm", "lxc.cgroup.devices.allow = c 136:* rwm", ""].join("\n"));
    t.ok(["start", "-n", "d"]);
    const openFuse = () => t.lxt(["attach", "-n", "d", "--", "sh", "-c", "exec 3</dev/fuse && echo opened"]);
    const mknod = () => t.lxt(["attach", "-n", "d", "--", "mknod", "/dev/fuse", "c", "10", "229"]);
    expect(mknod().stderr).toContain("Operation not permitted"); // the device cgroup says no
    t.ok(["device", "-n", "d", "add", "/dev/fuse"]);
    expect(t.ok(["attach", "-n", "d", "--", "ls", "-l", "/dev/fuse"])).toMatch(/^c.* 10, +229 /);
    expect(openFuse().stdout.trim()).toBe("opened");
    t.ok(["device", "-n", "d", "add", "/dev/fuse", "/dev/sub/fuse2"]); // parents made, another path
    expect(t.ok(["attach", "-n", "d", "--", "ls", "/dev/sub"]).trim()).toBe("fuse2");
    t.ok(["device", "-n", "d", "del", "/dev/fuse"]);
    expect(t.lxt(["attach", "-n", "d", "--", "ls", "/dev/fuse"]).code).not.toBe(0);
    expect(mknod().stderr).toContain("Operation not permitted"); // the rule is gone again

    // an interface: a veth end moves in under a new name and back out under its own
    const host = `lxtd${process.pid % 10000}`;
    Bun.spawnSync(["ip", "link", "add", host, "type", "veth", "peer", "name", `${host}p`]);
    try {
      t.ok(["device", "-n", "d", "add", host, "eth5"]);
      expect(existsSync(`/sys/class/net/${host}`)).toBe(false);
      expect(t.ok(["attach", "-n", "d", "--", "ip", "link", "show", "eth5"])).toContain("eth5");
      t.ok(["device", "-n", "d", "del", "eth5"]);
      expect(existsSync(`/sys/class/net/${host}`)).toBe(true);
    } finally {
      Bun.spawnSync(["ip", "link", "del", host]);
    }
    const bad = t.lxt(["device", "-n", "d", "add", "/etc/passwd"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("is not a device node");
    expect(t.lxt(["device", "-n", "d", "add", "nosuch0"]).stderr).toContain("no network interface `nosuch0`");
    t.ok(["stop", "-n", "d", "-k"]);
    expect(t.lxt(["device", "-n", "d", "add", "/dev/fuse"]).stderr).toContain("not running");
    t.ok(["destroy", "-n", "d"]);
  });

  it("create with lxc.idmap in the config: an idmapped rootfs mount (nothing chowned), or with LXT_IDMAPPED=0 the rootfs shifted; both start with no manual step", () => {
    chmodSync(t.dir, 0o755);
    const conf = `${t.dir}/userns.conf`;
    writeFileSync(conf, "lxc.idmap = u 0 400000 65536\nlxc.idmap = g 0 400000 65536\n");
    const idmapped = Bun.spawnSync([`${ROOT}/native/build/lxt-shim`, "idmap-probe", t.dir]).exitCode === 0;
    for (const shift of [false, true]) {
      const env: Record<string, string> = shift ? { LXT_IDMAPPED: "0" } : {};
      t.ok(["create", "-n", "un", "-t", "busybox", "-f", conf], { env });
      chmodSync(t.lxcpath, 0o755);
      const cfg = readFileSync(`${t.lxcpath}/un/config`, "utf8");
      const onDisk = !shift && idmapped ? 0 : 400000; // what the host sees
      expect(cfg.includes("lxc.rootfs.options = idmap=container")).toBe(!shift && idmapped);
      expect(statSync(`${t.lxcpath}/un/rootfs/etc/shadow`).uid).toBe(onDisk);
      expect(statSync(`${t.lxcpath}/un/rootfs/bin/busybox`).gid).toBe(onDisk);
      expect(statSync(`${t.lxcpath}/un`).gid).toBe(400000);
      t.ok(["start", "-n", "un"]);
      expect(t.ok(["attach", "-n", "un", "--", "stat", "-c", "%u:%g", "/etc/shadow"]).trim()).toBe("0:0");
      expect(t.ok(["attach", "-n", "un", "--", "sh", "-c", "touch /root/x && stat -c %u /root/x"]).trim()).toBe("0");
      expect(statSync(`${t.lxcpath}/un/rootfs/root/x`).uid).toBe(onDisk);
      // root inside is still the mapped uid to the kernel
      const pid = Number(t.ok(["info", "-n", "un", "-p", "-H"]).trim());
      expect(readFileSync(`/proc/${pid}/status`, "utf8")).toMatch(/^Uid:\s+400000\s/m);
      t.ok(["stop", "-n", "un", "-k"]);
      if (!shift && idmapped) {
        // an overlay snapshot clone cannot carry the idmapped mount: refused, with the ways out
        const c = t.lxt(["copy", "-n", "un", "-N", "un2", "-s"]);
        expect(c.stderr).toContain("rootfs is idmapped (lxc.rootfs.options = idmap=container): an overlay snapshot clone of it cannot be");
        expect(existsSync(`${t.lxcpath}/un2`)).toBe(false);
        // a full copy onto a loop store (mounted inside the container): shifted now, the option dropped
        t.ok(["copy", "-n", "un", "-N", "un3", "-B", "loop", "--fssize", "64M"]);
        expect(readFileSync(`${t.lxcpath}/un3/config`, "utf8")).not.toContain("idmap=container");
        t.ok(["start", "-n", "un3"]);
        expect(t.ok(["attach", "-n", "un3", "--", "stat", "-c", "%u:%g", "/etc/shadow"]).trim()).toBe("0:0");
        expect(t.ok(["attach", "-n", "un3", "--", "sh", "-c", "touch /root/y && echo ok"]).trim()).toBe("ok");
        t.ok(["stop", "-n", "un3", "-k"]);
        t.ok(["destroy", "-n", "un3"]);
      }
      t.ok(["destroy", "-n", "un"]);
    }
    // idmap=container without a user namespace is refused at start
    t.ok(["create", "-n", "bad", "-t", "busybox"]);
    appendFileSync(`${t.lxcpath}/bad/config`, "lxc.rootfs.options = idmap=container\n");
    expect(t.lxt(["start", "-n", "bad"]).stderr).toContain("lxc.rootfs.options = idmap=container cannot be applied: the container has no user namespace");
    t.ok(["destroy", "-n", "bad"]);
  });


  it("lxt usernsexec: a command as root of a new user namespace with the given maps; its exit status; a map without root is refused", () => {
    const probe = `${t.dir}/probe`;
    chmodSync(t.dir, 0o777);
    const r = t.lxt(["usernsexec", "-m", "b:0:300000:65536", "--", "sh", "-c", `id -u; cat /proc/self/uid_map; touch ${probe}; exit 4`]);
    expect(r.code).toBe(4);
    const [id, ...map] = r.stdout.trim().split(/\s+/);
    expect(id).toBe("0");
    expect(map).toEqual(["0", "300000", "65536"]);
    expect(statSync(probe).uid).toBe(300000); // root inside is 300000 outside
    const bad = t.lxt(["usernsexec", "-m", "u:1:300000:10", "--", "true"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("no map gives the namespace a root");
    expect(t.lxt(["usernsexec", "-m", "x:0:1:1"]).stderr).toContain("invalid id map `x:0:1:1`");
  });

  it("lxc.mount.fstab: entries mounted relative to the rootfs; a malformed line is an error naming file:line", async () => {
    t.ok(["create", "-n", "f", "-t", "busybox"]);
    const fstab = `${t.dir}/fstab`;
    writeFileSync(fstab, `# comment\n\ntmpfs mnt/scratch tmpfs size=1m,create=dir 0 0\n${t.dir} mnt/host none bind,ro,create=dir 0 0\n`);
    appendFileSync(`${t.lxcpath}/f/config`, `lxc.mount.fstab = ${fstab}\n`);
    t.ok(["start", "-n", "f"]);
    const mounts = t.ok(["attach", "-n", "f", "--", "cat", "/proc/mounts"]);
    expect(mounts).toMatch(/^tmpfs \/mnt\/scratch tmpfs /m);
    expect(mounts).toMatch(/ \/mnt\/host \w+ ro[,\s]/m);
    expect(t.ok(["attach", "-n", "f", "--", "cat", "/mnt/host/fstab"])).toContain("mnt/scratch");
    t.ok(["stop", "-n", "f", "-k"]);
    writeFileSync(fstab, "tmpfs\n");
    const r = t.lxt(["start", "-n", "f"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${fstab}:1: malformed fstab line`);
    t.ok(["destroy", "-n", "f"]);
  });
});
