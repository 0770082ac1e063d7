import { describe, expect, test } from "bun:test";
import { loadConfig } from "../../src/config/load.ts";
import { buildStartPlan, capsToDrop, CLONE, encodePlan } from "../../src/runtime/plan.ts";
import { specFromConfig } from "../../src/spec/fromLxcConfig.ts";

const mk = (text: string) => specFromConfig(loadConfig("/t/config", { text }), { name: "c", lxcpath: "/l", configPath: "/t/config" });
const plan = (text: string, mode: "daemon" | "execute" = "daemon", argv?: string[]) =>
  buildStartPlan({ spec: mk(text), rundir: "/run/x", cgroupJoinFiles: ["/cg/tasks"], mode, argv, cleanupArgv: ["/lxt", "__cleanup"] }, { TERM: "xterm" });

describe("start plan", () => {
  test("joins the cgroup before the cgroup namespace, privatizes / before any mount, pivots last", () => {
    const p = plan("lxc.rootfs.path = dir:/r\nlxc.mount.auto = proc:mixed sys:ro\n");
    const ops = p.map((o) => o[0]);
    expect(ops.indexOf("join")).toBeLessThan(ops.indexOf("unshare"));
    expect(p.find((o) => o[0] === "unshare")![1]).toBe(String(CLONE.cgroup));
    const firstMount = p.find((o) => o[0] === "mount")!;
    expect(firstMount.slice(1, 3)).toEqual(["", "/"]);
    expect(ops.indexOf("pivot")).toBeGreaterThan(ops.lastIndexOf("mount"));
    expect(p.at(-1)).toEqual(["exec", "/sbin/init"]);
    // the clone flags leave out cgroup (unshared after the join)
    const clone = Number(p.find((o) => o[0] === "clone")![1]);
    expect(clone & CLONE.cgroup).toBe(0);
    expect(clone & CLONE.pid).toBe(CLONE.pid);
  });
  test("mount entries: create=dir is made inside the rootfs, ro bind is remounted read-only, optional carried", () => {
    const p = plan("lxc.rootfs.path = /r\nlxc.mount.entry = /lib usr/lib none ro,bind,create=dir,optional 0 0\n");
    expect(p).toContainEqual(["mkdirin", "/r", "usr/lib"]);
    expect(p).toContainEqual(["mountin", "/r", "usr/lib", "/lib", "", String(0x1000), "", "optional"]);
    expect(p).toContainEqual(["mountin", "/r", "usr/lib", "", "", String(0x1000 | 32 | 1), "", "optional"]);
  });
  test("execute: the command replaces init, no console pty; environment as LXC gives it", () => {
    const p = plan("lxc.rootfs.path = /r\nlxc.environment = A=1\n", "execute", ["/bin/true"]);
    expect(p.at(-1)).toEqual(["exec", "/bin/true"]);
    expect(p.some((o) => o[0] === "pty")).toBe(false);
    expect(p.filter((o) => o[0] === "env").map((o) => o[1])).toEqual(["container=lxc", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", "A=1"]);
  });
  test("user namespace: maps for the monitor, nsroot first in init, host device nodes bound instead of mknod", () => {
    const p = plan("lxc.rootfs.path = /r\nlxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 1000\nlxc.idmap = g 1000 1000 1\nlxc.autodev = 1\n");
    expect(p).toContainEqual(["idmap", "u", "direct", "0 100000 65536"]);
    expect(p).toContainEqual(["ptyowner", "100000", "100000"]); // the container's root owns its terminals
    expect(p).toContainEqual(["idmap", "g", "direct", "0 100000 1000", "1000 1000 1"]);
    const ops = p.map((o) => o[0]);
    expect(ops.indexOf("nsroot")).toBeLessThan(ops.indexOf("mount"));
    expect(Number(p.find((o) => o[0] === "clone")![1]) & CLONE.user).toBe(CLONE.user);
    expect(ops).not.toContain("mknod");
    expect(p).toContainEqual(["mount", "/dev/null", "/r/dev/null", "", String(0x1000), ""]);
  });
  test("lxc.namespace.share: the pid namespace is entered by the monitor, the rest by init; shared ones are not cloned", () => {
    const spec = mk("lxc.rootfs.path = /r\nlxc.namespace.share.net = other\nlxc.namespace.share.pid = 42\n");
    const p = buildStartPlan({ spec, rundir: "/run/x", cgroupJoinFiles: [], mode: "daemon", cleanupArgv: [], sharePaths: { net: "/proc/7/ns/net", pid: "/proc/42/ns/pid" } });
    expect(p).toContainEqual(["pidns", "/proc/42/ns/pid"]);
    expect(p).toContainEqual(["setns", "/proc/7/ns/net", String(CLONE.net)]);
    const clone = Number(p.find((o) => o[0] === "clone")![1]);
    expect(clone & (CLONE.net | CLONE.pid)).toBe(0);
    expect(clone & CLONE.uts).toBe(CLONE.uts);
  });
  test("hooks inside the container: pre-mount before the rootfs bind, mount/autodev before pivot, start after it; the barrier before start", () => {
    const spec = mk("lxc.rootfs.path = /r\nlxc.hook.pre-mount = /h/pm\nlxc.hook.mount = /h/m\nlxc.hook.autodev = /h/a\nlxc.hook.start = /h/s\nlxc.autodev = 1\n");
    const p = buildStartPlan({ spec, rundir: "/run/x", cgroupJoinFiles: [], mode: "daemon", cleanupArgv: [], syncExec: true, hookEnv: { LXC_NAME: "c" } });
    const at = (pred: (o: string[]) => boolean) => p.findIndex(pred);
    const hook = (t: string) => at((o) => o[0] === "hook" && o[1] === t);
    expect(p[hook("pre-mount")]).toEqual(["hook", "pre-mount", "/h/pm c lxc pre-mount"]); // hook version 0 appends NAME lxc TYPE
    expect(hook("pre-mount")).toBeLessThan(at((o) => o[0] === "mount" && o[1] === "/r"));
    expect(hook("mount")).toBeLessThan(hook("autodev"));
    expect(hook("autodev")).toBeLessThan(at((o) => o[0] === "pivot"));
    expect(at((o) => o[0] === "barrier")).toBeLessThan(hook("start"));
    expect(hook("start")).toBeGreaterThan(at((o) => o[0] === "pivot"));
    expect(p).toContainEqual(["henv", "LXC_NAME=c"]);
    expect(p).toContainEqual(["sync", "/run/x/sync", "0"]);
  });
  test("console: ptys carry LXC's tty numbers; the log file goes to the monitor", () => {
    const p = plan("lxc.rootfs.path = /r\nlxc.tty.max = 2\nlxc.console.logfile = /log/c\nlxc.console.size = 1M\nlxc.console.rotate = 1\n");
    expect(p.filter((o) => o[0] === "pty")).toEqual([["pty", "/r", "dev/console", "0"], ["pty", "/r", "dev/tty1", "1"], ["pty", "/r", "dev/tty2", "2"]]);
    expect(p).toContainEqual(["log", "/log/c", String(1 << 20), "1"]);
    expect(p).toContainEqual(["sock", "/run/x/sock"]);
  });
  test("lxc.mount.auto cgroup: a read-only tmpfs with each host hierarchy mounted inside the cgroup namespace", () => {
    const spec = mk("lxc.rootfs.path = /r\nlxc.mount.auto = sys:mixed cgroup:mixed\n");
    const cgroupMounts = [{ dir: "pids", fstype: "cgroup" as const, options: "pids" }, { dir: "systemd", fstype: "cgroup" as const, options: "none,name=systemd" }, { dir: "unified", fstype: "cgroup2" as const, options: "" }];
    const p = buildStartPlan({ spec, rundir: "/run/x", cgroupJoinFiles: [], mode: "daemon", cleanupArgv: [], cgroupMounts });
    const fl = 2 | 4 | 8;
    expect(p).toContainEqual(["mountin", "/r", "sys/fs/cgroup", "cgroup", "tmpfs", String(fl), "mode=755,size=64k", "strict"]);
    expect(p).toContainEqual(["mount", "cgroup", "/r/sys/fs/cgroup/systemd", "cgroup", String(fl), "none,name=systemd"]);
    expect(p).toContainEqual(["mount", "cgroup2", "/r/sys/fs/cgroup/unified", "cgroup2", String(fl), ""]);
    const ops = p.map((o) => o.slice(0, 3).join(" "));
    expect(ops.indexOf("mountin /r sys")).toBeLessThan(ops.indexOf("mountin /r sys/fs/cgroup"));
    expect(p).toContainEqual(["mount", "", "/r/sys/fs/cgroup", "", String(32 | 1 | fl), "mode=755,size=64k"]);
    // a pure v2 host: cgroup2 right on /sys/fs/cgroup, no tmpfs
    const v2 = buildStartPlan({ spec, rundir: "/run/x", cgroupJoinFiles: [], mode: "daemon", cleanupArgv: [], cgroupMounts: [{ dir: "", fstype: "cgroup2", options: "" }] });
    expect(v2).toContainEqual(["mountin", "/r", "sys/fs/cgroup", "cgroup2", "cgroup2", String(fl), "", "strict"]);
    expect(v2.some((o) => o.includes("tmpfs") && o.includes("sys/fs/cgroup"))).toBe(false);
  });
  test("no lxc.rootfs.path: the host's root, no rootfs bind, no pivot, no autodev or console pty", () => {
    const p = plan("lxc.mount.auto = proc:mixed\nlxc.autodev = 1\nlxc.mount.entry = tmpfs tmp tmpfs defaults,create=dir 0 0\n");
    const ops = p.map((o) => o[0]);
    expect(ops).not.toContain("pivot");
    expect(ops).not.toContain("pty");
    expect(ops).not.toContain("mknod");
    expect(p).toContainEqual(["mountin", "/", "proc", "proc", "proc", String(2 | 4 | 8), "", "strict"]);
    expect(p).toContainEqual(["mkdirin", "/", "tmp"]);
  });
  test("time namespace by the monitor (never a clone flag), keyring, personality, rootfs options", () => {
    const p = plan("lxc.rootfs.path = /r\nlxc.time.offset.boot = 2s\nlxc.arch = i386\nlxc.rootfs.options = ro,nosuid\nlxc.sched.core = 1\n");
    expect(p).toContainEqual(["timens", "2000000000", "0"]);
    expect(Number(p.find((o) => o[0] === "clone")![1]) & 0xff).toBe(0); // 0x80 would be read as an exit signal by clone(2)
    expect(p).toContainEqual(["keyring"]);
    expect(p).toContainEqual(["schedcore"]);
    expect(p).toContainEqual(["personality", "8"]);
    expect(p).toContainEqual(["mount", "", "/r", "", String(0x1000 | 32 | 1 | 2), ""]);
    const q = plan("lxc.rootfs.path = /r\nlxc.keyring.session = 0\nlxc.namespace.clone = mnt pid time\n");
    expect(q.some((o) => o[0] === "keyring")).toBe(false);
    expect(q).toContainEqual(["timens", "0", "0"]);
  });
  test("system mounts and ptys are placed with strict in-root resolution (no symlink on the way)", () => {
    const p = plan("lxc.rootfs.path = /r\nlxc.mount.auto = proc:mixed sys:mixed\nlxc.autodev = 1\n");
    for (const rel of ["proc", "sys", "dev"]) {
      expect(p).toContainEqual(["mkdirin", "/r", rel, "strict"]);
      expect(p.find((o) => o[0] === "mountin" && o[2] === rel)!.at(-1)).toBe("strict");
    }
    // nothing is mounted by a plain path that could pass through a rootfs symlink, but below those
    for (const o of p.filter((o) => o[0] === "mount" && o[2] !== "/")) expect(o[2]).toMatch(/^\/r(\/(proc|sys|dev)(\/.+)?)?$/);
  });
  test("a loop/block store is mounted before init joins its cgroup (whose device rules would refuse the device)", () => {
    const spec = mk("lxc.rootfs.path = loop:/c/rootdev\n");
    const p = buildStartPlan({ spec, rundir: "/run/x", cgroupJoinFiles: ["/cg/tasks"], mode: "daemon", cleanupArgv: [], rootfs: { target: "/c/rootfs", mount: [{ op: "mountloop", source: "/c/rootdev", fstype: "ext4", data: "" }] } });
    const ops = p.map((o) => o[0]);
    expect(ops.indexOf("mountloop")).toBeLessThan(ops.indexOf("join"));
    expect(ops.indexOf("join")).toBeLessThan(ops.indexOf("unshare"));
    expect(ops.indexOf("unshare")).toBeLessThan(ops.indexOf("pivot"));
  });
  test("capabilities: drop list and keep list become bounding-set drops", () => {
    expect(capsToDrop({ mode: "drop", names: ["sys_module", "sys_time"] })).toEqual([16, 25]);
    expect(capsToDrop({ mode: "keep", names: ["sys_admin"] })).not.toContain(21);
    expect(capsToDrop({ mode: "keep", names: ["sys_admin"] })).toContain(0);
  });
  test("encoding: OP, ARGC, ARGS as NUL-terminated strings; NUL in a value is refused", () => {
    expect(new TextDecoder().decode(encodePlan([["hostname", "web"]]))).toBe("hostname\x001\x00web\x00");
    expect(() => encodePlan([["env", "A=\0"]])).toThrow("NUL");
  });
});
