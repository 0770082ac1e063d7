// The cgroup drivers on this host's real hierarchies, as root: processes join
// by writing 0 to the join files (as the shim's child does), settings are
// enforced by the kernel, the freezer stops them, kill and remove end them,
// and nothing is left behind. v1 runs on the host's v1 controllers; v2 runs in
// a test cgroup the test makes below the cgroup2 mount and removes again.
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { cgroupDriver, cgroupOfPid, detectLayout, type ContainerCgroup } from "../../src/cgroup/index.ts";
import type { CgroupSpec } from "../../src/cgroup/index.ts";
import { LxtError, NotFoundError, NotSupportedError } from "../../src/util/errors.ts";

const isRoot = process.getuid?.() === 0;
const layout = detectLayout();
const v1Skip = !isRoot ? "needs root (creates cgroups)" : layout.hierarchies.some((h) => !h.unified) ? undefined : "no cgroup v1 hierarchy on this host";
const v2Skip = !isRoot ? "needs root (creates cgroups)" : layout.unified ? undefined : "no cgroup2 mount on this host";
if (v1Skip) console.warn(`SKIP cgroup v1 driver: ${v1Skip}`);
if (v2Skip) console.warn(`SKIP cgroup v2 driver: ${v2Skip}`);

const TAG = `cgit${process.pid}`;
const tmp = mkdtempSync("/tmp/lxt-it-cgdrv-");
const spec = (o: Partial<CgroupSpec> = {}): CgroupSpec => ({ v1: [], v2: [], relative: false, ...o });
const children: Bun.Subprocess[] = [];
const made: ContainerCgroup[] = [];

/** A child that joins the cgroup the way the shim's child does (write 0 to each join file), then runs `script`. */
function joined(cg: ContainerCgroup, script: string): Bun.Subprocess {
  const p = Bun.spawn(["/bin/sh", "-c", `for f in "$@"; do echo 0 > "$f" || exit 99; done; ${script}`, "sh", ...cg.joinFiles()], { stdout: "ignore", stderr: "pipe" });
  children.push(p);
  return p;
}
async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await Bun.sleep(10);
  }
}
const counter = (f: string) => Number(readFileSync(f, "utf8").trim() || 0);
const COUNT = (f: string) => `i=0; while :; do i=$((i+1)); echo $i > ${f}; done`;

/** every lxt test cgroup of this run, in every hierarchy */
function leftovers(): string[] {
  const out: string[] = [];
  for (const h of layout.hierarchies) {
    for (const d of readdirSync(h.mountpoint)) if (d.includes(TAG)) out.push(`${h.mountpoint}/${d}`);
  }
  return out;
}

afterEach(async () => {
  for (const cg of made.splice(0)) {
    try {
      cg.remove();
    } catch {
      // asserted below
    }
  }
  for (const p of children.splice(0)) {
    if (p.exitCode === null && p.signalCode === null) p.kill(9);
    await p.exited;
  }
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
  expect(leftovers()).toEqual([]);
});

describe.skipIf(!!v1Skip)("cgroup v1 driver on this host", () => {
  const driver = cgroupDriver({ force: 1 });

  test("lxt.payload.NAME in every hierarchy; a child joining through tasks is in it; settings from the config are enforced", async () => {
    const name = `${TAG}-a`;
    const cg = driver.create({
      name,
      spec: spec({
        v1: [
          { key: "memory.limit_in_bytes", value: "64M" },
          { key: "cpuset.cpus", value: "0" },
          { key: "devices.deny", value: "a" },
          { key: "devices.allow", value: "c 1:3 rwm" },
        ],
        v2: [{ key: "pids.max", value: "4" }],
      }),
    });
    made.push(cg);
    const rec = cg.record();
    expect(rec.version).toBe(1);
    // root without lxc.cgroup.relative escapes to init's cgroup: the hierarchy roots here
    const init = readFileSync("/proc/1/cgroup", "utf8");
    if (/^\d+:memory:\/$/m.test(init)) expect(rec.paths.memory).toBe(`${layout.v1Controllers.memory}/lxt.payload.${name}`);
    expect(cg.joinFiles().every((f) => f.endsWith(`/lxt.payload.${name}/tasks`) && existsSync(f))).toBe(true);
    expect(JSON.parse(JSON.stringify(rec))).toEqual(rec);

    const out = `${tmp}/a.out`;
    const p = joined(cg, `grep Cpus_allowed_list /proc/self/status > ${out}; head -c1 /dev/zero >/dev/null 2>&1 && echo zero=ok >> ${out} || echo zero=denied >> ${out}; : > /dev/null && echo null=ok >> ${out}; echo done >> ${out}; exec sleep 60`);
    await waitFor(() => existsSync(out) && readFileSync(out, "utf8").includes("done"));
    const text = readFileSync(out, "utf8");
    expect(text).toMatch(/Cpus_allowed_list:\s+0\n/);
    expect(text).toContain("zero=denied");
    expect(text).toContain("null=ok");
    expect(cg.pids()).toContain(p.pid);
    expect(cgroupOfPid(p.pid).find((c) => c.controller === "memory")?.path).toEndWith(`/lxt.payload.${name}`);

    expect(cg.get("memory.limit_in_bytes")).toBe("67108864");
    cg.set("memory.limit_in_bytes", "128M");
    expect(cg.get("memory.limit_in_bytes")).toBe("134217728");
    expect(cg.get("pids.max")).toBe("4");
    const st = cg.stats();
    expect(st.pids).toBe(1);
    expect(st.memoryLimit).toBe(134217728);
    expect(st.memoryBytes).toBeGreaterThan(0);
    expect(st.cpuUsageNs).toBeGreaterThan(0);
    expect(st.kmemBytes === undefined || st.kmemBytes >= 0).toBe(true);

    // pids.max: a shell in the cgroup cannot fork past it
    const f = joined(cg, "for i in 1 2 3 4 5 6; do sleep 30 >/dev/null 2>&1 & done; exit 0");
    await f.exited;
    expect(await new Response(f.stderr as ReadableStream).text()).toMatch(/fork|Resource temporarily unavailable/);

    cg.remove(); // kills the sleeper and the forks' children
    expect(cg.pids()).toEqual([]);
    expect(Object.values(rec.paths).some((d) => existsSync(d))).toBe(false);
    await p.exited;
    expect(p.signalCode).toBe("SIGKILL");
  }, 20_000);

  test("freeze stops the processes and thaw resumes them; kill signals every one", async () => {
    const cg = driver.create({ name: `${TAG}-f`, spec: spec() });
    made.push(cg);
    const f = `${tmp}/count`;
    const p = joined(cg, COUNT(f));
    await waitFor(() => existsSync(f) && counter(f) > 10);
    cg.freeze();
    expect(cg.freezerState()).toBe("FROZEN");
    const c1 = counter(f);
    await Bun.sleep(150);
    expect(counter(f)).toBe(c1);
    expect(readFileSync(`/proc/${p.pid}/stat`, "utf8").split(" ")[2]).toBe("D"); // the freezer's sleep
    cg.thaw();
    expect(cg.freezerState()).toBe("THAWED");
    await waitFor(() => counter(f) > c1 + 10);
    cg.kill(15);
    await p.exited;
    expect(p.signalCode).toBe("SIGTERM");
    expect(cg.freezerState()).toBe("THAWED");
    cg.remove();
    expect(existsSync(cg.record().paths.freezer!)).toBe(false);
  });

  test("remove of a frozen cgroup with a process in it kills the process and removes every directory", async () => {
    const cg = driver.create({ name: `${TAG}-r`, spec: spec() });
    made.push(cg);
    const p = joined(cg, "exec sleep 60");
    await waitFor(() => cg.pids().includes(p.pid));
    cg.freeze();
    cg.remove();
    await p.exited;
    expect(p.signalCode).toBe("SIGKILL");
    expect(Object.values(cg.record().paths).some((d) => existsSync(d))).toBe(false);
    cg.remove(); // idempotent
  });

  test("a live cgroup of the name makes the next one NAME-1; an empty leftover is taken over", async () => {
    const name = `${TAG}-c`;
    const a = driver.create({ name, spec: spec() });
    made.push(a);
    const p = joined(a, "exec sleep 60");
    await waitFor(() => a.pids().includes(p.pid));
    const b = driver.create({ name, spec: spec() });
    made.push(b);
    expect(b.record().paths.memory).toBe(`${a.record().paths.memory}-1`);
    b.remove();
    a.remove();
    // a crashed run's empty cgroup in one hierarchy, with a child cgroup and a stale setting
    const left = `${layout.v1Controllers.memory}/lxt.payload.${name}`;
    mkdirSync(`${left}/sub`, { recursive: true });
    const c = driver.create({ name, spec: spec() });
    made.push(c);
    expect(c.record().paths.memory).toBe(left);
    expect(existsSync(`${left}/sub`)).toBe(false);
    c.remove();
  });

  test("lxc.cgroup.dir.container with .inner: limits on the outer cgroup, processes in the inner one; cpuset usable at every level", async () => {
    const top = `${TAG}-dir`;
    const cg = driver.create({ name: "ignored", spec: spec({ dirContainer: `${top}/web`, dirContainerInner: "ns", v1: [{ key: "pids.max", value: "9" }] }) });
    made.push(cg);
    expect(cg.record().paths.pids).toBe(`${layout.v1Controllers.pids}/${top}/web`);
    expect(cg.record().inner).toBe("ns");
    const p = joined(cg, "exec sleep 60");
    // joined everywhere once the last join file (in mount order) is written
    await waitFor(() => cgroupOfPid(p.pid).filter((c) => c.controller !== "unified").every((c) => c.path === `/${top}/web/ns`));
    expect(cgroupOfPid(p.pid).find((c) => c.controller === "cpuset")?.path).toBe(`/${top}/web/ns`);
    expect(cg.get("pids.max")).toBe("9");
    expect(readFileSync(`${layout.v1Controllers.pids}/${top}/web/ns/pids.max`, "utf8").trim()).toBe("max");
    cg.remove();
    await p.exited;
    // the leaf is the container's; the directory above it is left for whoever else uses it, as LXC does
    for (const h of layout.hierarchies.filter((x) => !x.unified)) {
      expect(existsSync(`${h.mountpoint}/${top}/web`)).toBe(false);
      rmdirSync(`${h.mountpoint}/${top}`);
    }
  });

  test("errors name the key and what the kernel said; a failed create leaves nothing", () => {
    const cg = driver.create({ name: `${TAG}-e`, spec: spec() });
    made.push(cg);
    expect(() => cg.set("memory.limit_in_bytes", "lots")).toThrow("set cgroup `memory.limit_in_bytes` to `lots`: the kernel rejected the value (EINVAL)");
    expect(() => cg.set("net_prio.ifpriomap", "x")).toThrow(NotFoundError);
    expect(() => cg.get("memory.bogus")).toThrow("read cgroup `memory.bogus`: the `memory` controller has no file `memory.bogus`");
    expect(() => cg.set("devices.allow", "q 1:3 z")).toThrow(LxtError);
    cg.remove();
    const name = `${TAG}-bad`;
    expect(() => driver.create({ name, spec: spec({ v1: [{ key: "pids.max", value: "5" }, { key: "memory.limit_in_bytes", value: "x" }] }) })).toThrow("EINVAL");
    expect(() => driver.create({ name, spec: spec({ v2: [{ key: "memory.high", value: "1G" }] }) })).toThrow(NotSupportedError);
    expect(leftovers().filter((d) => d.includes(name))).toEqual([]);
  });
});

describe.skipIf(!!v2Skip)("cgroup v2 driver in a test cgroup below the cgroup2 mount", () => {
  let root = "";
  afterAll(() => {
    if (root && existsSync(root)) rmdirSync(root);
    expect(root === "" || !existsSync(root)).toBe(true);
  });

  test("create, join through cgroup.procs, stats, freeze and thaw, kill through signals and cgroup.kill, remove", async () => {
    root = `${layout.unified}/lxt-test-${TAG}`;
    mkdirSync(root);
    const driver = cgroupDriver({ root, force: 2 });
    expect(driver.version).toBe(2);
    const cg = driver.create({ name: "v2a", spec: spec({ v2: [] }) });
    made.push(cg);
    const dir = `${root}/lxt.payload.v2a`;
    expect(cg.record()).toEqual({ version: 2, paths: { unified: dir } });
    expect(cg.joinFiles()).toEqual([`${dir}/cgroup.procs`]);
    expect(cg.unifiedDir?.()).toBe(dir);

    const f = `${tmp}/count2`;
    const p = joined(cg, COUNT(f));
    await waitFor(() => existsSync(f) && counter(f) > 10);
    expect(cg.pids()).toEqual([p.pid]);
    expect(cgroupOfPid(p.pid).find((c) => c.controller === "unified")?.path).toEndWith(`/lxt-test-${TAG}/lxt.payload.v2a`);
    expect(cg.stats().pids).toBe(1);
    expect(cg.stats().cpuUsageNs).toBeGreaterThan(0);

    cg.freeze();
    expect(cg.freezerState()).toBe("FROZEN");
    const c1 = counter(f);
    await Bun.sleep(150);
    expect(counter(f)).toBe(c1);
    cg.thaw();
    expect(cg.freezerState()).toBe("THAWED");
    await waitFor(() => counter(f) > c1 + 10);

    cg.kill(15); // freeze, signal each, thaw
    await p.exited;
    expect(p.signalCode).toBe("SIGTERM");

    const q = joined(cg, "exec sleep 60");
    await waitFor(() => cg.pids().includes(q.pid));
    cg.kill(9); // cgroup.kill where the kernel has it
    await q.exited;
    expect(q.signalCode).toBe("SIGKILL");

    const r = joined(cg, "exec sleep 60");
    await waitFor(() => cg.pids().includes(r.pid));
    cg.remove();
    await r.exited;
    expect(existsSync(dir)).toBe(false);
  });

  test("keys this cgroup cannot take are refused by name and leave nothing", () => {
    root = `${layout.unified}/lxt-test-${TAG}`;
    if (!existsSync(root)) mkdirSync(root);
    const driver = cgroupDriver({ root, force: 2 });
    expect(() => driver.create({ name: "v2b", spec: spec({ v1: [{ key: "memory.oom_control", value: "1" }] }) })).toThrow(
      "apply `lxc.cgroup.memory.oom_control = 1`: this host uses cgroup v2 and this key has no cgroup v2 counterpart",
    );
    // a translated key whose controller this cgroup lacks is refused by the controller's name
    expect(() => driver.create({ name: "v2b", spec: spec({ v1: [{ key: "memory.limit_in_bytes", value: "64M" }] }) })).toThrow("the cgroup v2 controller `memory` is not available below");
    const offered = (readFileSync(`${root}/cgroup.controllers`, "utf8").trim().split(/\s+/)).filter(Boolean);
    if (!offered.includes("pids"))
      expect(() => driver.create({ name: "v2b", spec: spec({ v2: [{ key: "pids.max", value: "5" }] }) })).toThrow("the cgroup v2 controller `pids` is not available below");
    expect(readdirSync(root).filter((d) => d.startsWith("lxt.payload."))).toEqual([]);
  });
});
