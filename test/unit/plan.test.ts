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
