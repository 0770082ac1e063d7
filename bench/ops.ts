// Stores, copies, network and cgroups side by side with LXC (npm run bench:ops),
// alternating lxt/LXC sample by sample, medians of --runs (default 10):
//  - snapshot clone: `lxt copy -s` (an overlay on a dir base) vs `lxc-copy -s -B overlayfs`
//  - full copy: `lxt copy` vs `lxc-copy` (dir)
//  - start to RUNNING on a dir, an overlay snapshot clone and a loop store (64 MiB
//    ext4 image), each started then stopped with -k between samples
//  - start with one veth NIC on a bridge made here (no address on it, no traffic)
//  - start + stop -k cycle of a container with cgroup limits (pids.max,
//    memory limit, cpu shares): cgroup setup and teardown inside a cycle
// Every container runs with lxc.console.path = none (bench/README.md says why).
//
//   bun bench/ops.ts [--runs N] [--json]
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const LXT = `${ROOT}/dist/lxt`;
const args = process.argv.slice(2);
const RUNS = Number(args[args.indexOf("--runs") + 1] || 0) || 10;
const JSON_OUT = args.includes("--json");
const dir = mkdtempSync("/tmp/lxt-bench-ops-");
const env = { ...process.env, LXT_RUNDIR: `${dir}/run`, LXT_DEFAULT_CONFIG: `${dir}/none.conf` } as Record<string, string>;
const L = (...a: string[]) => [LXT, a[0]!, "-P", `${dir}/lxt`, ...a.slice(1)];
const X = (tool: string, ...a: string[]) => [tool, "-P", `${dir}/lxc`, ...a];
const BR = `lxtbb${process.pid % 1000}`;

function sh(argv: string[]): string {
  const p = Bun.spawnSync(argv, { env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  if (p.exitCode !== 0) throw new Error(`${argv.join(" ")} exited ${p.exitCode}: ${p.stderr.toString().trim()}`);
  return p.stdout.toString();
}
function time(argv: string[]): number {
  const t = performance.now();
  sh(argv);
  return performance.now() - t;
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

interface Row {
  op: string;
  lxt: number;
  lxc: number;
}

function main(): void {
  if (!existsSync(LXT)) throw new Error(`${LXT} is missing: run npm install`);
  writeFileSync(`${dir}/none.conf`, "");
  const conf = (extra: string[] = []) => {
    const f = `${dir}/c${Math.random().toString(36).slice(2, 8)}.conf`;
    writeFileSync(f, ["lxc.net.0.type = empty", "lxc.console.path = none", ...extra, ""].join("\n"));
    return f;
  };
  const both = (name: string, f: string, extra: string[] = []) => {
    sh(L("create", "-n", name, "-t", "busybox", "-f", f, ...extra));
    sh(X("lxc-create", "-n", name, "-t", "busybox", "-f", f, ...extra));
  };
  both("base", conf());
  both("loop", conf(), ["-B", "loop", "--fssize", "64M"]);
  sh(["ip", "link", "add", BR, "type", "bridge"]);
  sh(["ip", "link", "set", BR, "up"]);
  const vethConf = `${dir}/veth.conf`;
  writeFileSync(vethConf, ["lxc.net.0.type = veth", `lxc.net.0.link = ${BR}`, "lxc.net.0.flags = up", "lxc.console.path = none", ""].join("\n"));
  both("veth", vethConf);
  both("limits", conf(["lxc.cgroup.pids.max = 100", "lxc.cgroup.memory.limit_in_bytes = 256M", "lxc.cgroup.cpu.shares = 512"]));
  sh(L("copy", "-n", "base", "-N", "ov", "-s"));
  sh(X("lxc-copy", "-n", "base", "-N", "ov", "-s", "-B", "overlayfs"));

  const s: Record<string, number[]> = {};
  const add = (k: string, ms: number) => (s[k] ??= []).push(ms);
  const startStop = (k: string, name: string) => {
    add(`lxt ${k}`, time(L("start", "-n", name)));
    sh(L("stop", "-n", name, "-k"));
    add(`lxc ${k}`, time(X("lxc-start", "-n", name, "-d")));
    sh(X("lxc-stop", "-n", name, "-k"));
  };
  for (let i = 0; i < RUNS; i++) {
    add("lxt snapshot clone", time(L("copy", "-n", "base", "-N", `s${i}`, "-s")));
    add("lxc snapshot clone", time(X("lxc-copy", "-n", "base", "-N", `s${i}`, "-s", "-B", "overlayfs")));
    add("lxt full copy", time(L("copy", "-n", "base", "-N", `f${i}`)));
    add("lxc full copy", time(X("lxc-copy", "-n", "base", "-N", `f${i}`)));
    for (const n of [`s${i}`, `f${i}`]) {
      sh(L("destroy", "-n", n));
      sh(X("lxc-destroy", "-n", n));
    }
    startStop("start dir", "base");
    startStop("start overlay clone", "ov");
    startStop("start loop", "loop");
    startStop("start veth on a bridge", "veth");
    add("lxt cycle", time(L("start", "-n", "limits")) + time(L("stop", "-n", "limits", "-k")));
    add("lxc cycle", time(X("lxc-start", "-n", "limits", "-d")) + time(X("lxc-stop", "-n", "limits", "-k")));
  }
  const rows: Row[] = ["snapshot clone", "full copy", "start dir", "start overlay clone", "start loop", "start veth on a bridge", "cycle"].map((k) => ({
    op: k === "cycle" ? "start+stop with limits" : k,
    lxt: median(s[`lxt ${k}`]!),
    lxc: median(s[`lxc ${k}`]!),
  }));
  if (JSON_OUT) {
    console.log(JSON.stringify({ runs: RUNS, rows: rows.map((r) => ({ ...r, ratio: r.lxt / r.lxc })) }, null, 2));
    return;
  }
  console.log(`lxt vs LXC: medians of ${RUNS} runs, alternating, ${new Date().toISOString()}`);
  console.log(`${"operation".padEnd(26)}${"lxt".padStart(10)}${"LXC".padStart(10)}  lxt/LXC`);
  for (const r of rows) console.log(`${r.op.padEnd(26)}${`${r.lxt.toFixed(1)} ms`.padStart(10)}${`${r.lxc.toFixed(1)} ms`.padStart(10)}  ${(r.lxt / r.lxc).toFixed(2).padStart(7)}`);
}

function cleanupAll(): void {
  const q = { env, stdout: "ignore" as const, stderr: "ignore" as const };
  for (const n of ["base", "loop", "veth", "limits", "ov"]) {
    Bun.spawnSync(L("stop", "-n", n, "-k"), q);
    Bun.spawnSync(X("lxc-stop", "-n", n, "-k"), q);
  }
  for (const n of ["ov", "base", "loop", "veth", "limits"]) {
    Bun.spawnSync(L("destroy", "-n", n, "-f", "-s"), q);
    Bun.spawnSync(X("lxc-destroy", "-n", n, "-f", "-s"), q);
  }
  Bun.spawnSync(["ip", "link", "del", BR], q);
  rmSync(dir, { recursive: true, force: true });
}

process.on("SIGINT", () => {
  cleanupAll();
  process.exit(130);
});
try {
  main();
} catch (e) {
  console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
} finally {
  cleanupAll();
}
