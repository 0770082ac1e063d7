// lxt side by side with LXC, crun and runc, in one run (npm run bench).
// Builds the same busybox container for each, then times, alternating
// lxt/peer sample by sample: execute/run of /bin/true, start to RUNNING,
// stop -k, attach /bin/true; reads the monitors' RSS/PSS; and times
// `lxt --version` and `lxt ls` beside `bun -e 0`. Prints medians and
// lxt/peer ratios against the targets of the lifecycle issue.
//
//   bun bench/run.ts [--runs N] [--cold] [--json]
//
// Everything lives in a temp dir and is removed at the end (also on Ctrl-C).
// Console: this host's /dev/pts has a read-only devpts mounted over it, on
// which LXC cannot fchmod the console pty ("Failed to change console mode:
// Read-only file system"), so both lxt's and LXC's containers run with
// lxc.console.path = none: the same config for both.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const LXT = `${ROOT}/dist/lxt`;
const args = process.argv.slice(2);
const RUNS = Number(args[args.indexOf("--runs") + 1] || 0) || 20;
const COLD = args.includes("--cold");
const JSON_OUT = args.includes("--json");

const dir = mkdtempSync("/tmp/lxt-bench-");
const env = { ...process.env, LXT_RUNDIR: `${dir}/run`, LXT_DEFAULT_CONFIG: `${dir}/none.conf` } as Record<string, string>;
const L = (...a: string[]) => [LXT, a[0]!, "-P", `${dir}/lxt`, ...a.slice(1)];
const X = (tool: string, ...a: string[]) => [tool, "-P", `${dir}/lxc`, ...a];

function sh(argv: string[], ok = true): { code: number; out: string; err: string } {
  const p = Bun.spawnSync(argv, { env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const r = { code: p.exitCode ?? 128, out: p.stdout.toString(), err: p.stderr.toString() };
  if (ok && r.code !== 0) throw new Error(`${argv.join(" ")} exited ${r.code}: ${r.err.trim()}`);
  return r;
}

/** Wall time of one command in ms (spawn cost is the same for every tool). */
function time(argv: string[]): number {
  const t = performance.now();
  const p = Bun.spawnSync(argv, { env, stdout: "ignore", stderr: "pipe", stdin: "ignore" });
  const ms = performance.now() - t;
  if (p.exitCode !== 0) throw new Error(`${argv.join(" ")} exited ${p.exitCode}: ${p.stderr.toString().trim()}`);
  return ms;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** crun refuses this host's hybrid layout unless /sys/fs/cgroup/unified is hidden: it runs in a private mount namespace, served over a pipe. */
class CrunInNamespace {
  private p = Bun.spawn(["unshare", "-m", "--propagation", "private", process.execPath, `${ROOT}/bench/oci-inner.ts`], { stdin: "pipe", stdout: "pipe", stderr: "inherit", env });
  private reader = this.p.stdout.getReader();
  private buf = "";
  async run(bundle: string, id: string): Promise<number> {
    this.p.stdin.write(`${bundle}\t${id}\n`);
    await this.p.stdin.flush();
    while (!this.buf.includes("\n")) {
      const r = await this.reader.read();
      if (r.done) throw new Error("the crun runner ended");
      this.buf += new TextDecoder().decode(r.value);
    }
    const [line, ...rest] = this.buf.split("\n");
    this.buf = rest.join("\n");
    if (!/^[\d.]+$/.test(line!)) throw new Error(`crun: ${line}`);
    return Number(line);
  }
  close(): void {
    this.p.stdin.end();
  }
}

interface Row {
  op: string;
  lxt: number;
  peer: string;
  peerMs: number;
  target: number;
  unit: string;
}

function memoryOf(pid: number): { rss: number; pss: number } {
  const t = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(t)?.[1] ?? 0);
  return { rss: kb("Rss") / 1024, pss: kb("Pss") / 1024 };
}

function ppid(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(s.slice(s.lastIndexOf(")") + 2).split(" ")[1]);
}

async function main(): Promise<void> {
  if (!existsSync(LXT)) throw new Error(`${LXT} is missing: run npm install`);
  const conf = `${dir}/same.conf`;
  writeFileSync(conf, "lxc.net.0.type = empty\nlxc.console.path = none\n");
  writeFileSync(`${dir}/none.conf`, "");
  sh(L("create", "-n", "b", "-t", "busybox", "-f", conf));
  sh(X("lxc-create", "-n", "b", "-t", "busybox", "-f", conf));
  // OCI bundle with the same rootfs and lxt's namespaces
  const bundle = `${dir}/bundle`;
  sh(["mkdir", "-p", bundle]);
  cpSync(`${dir}/lxt/b/rootfs`, `${bundle}/rootfs`, { recursive: true, verbatimSymlinks: true });
  sh(["sh", "-c", `cd ${bundle} && runc spec`]);
  const spec = JSON.parse(readFileSync(`${bundle}/config.json`, "utf8"));
  spec.process.args = ["/bin/true"];
  spec.process.terminal = false;
  spec.root.readonly = false;
  spec.linux.namespaces.push({ type: "cgroup" });
  writeFileSync(`${bundle}/config.json`, JSON.stringify(spec));

  const cold = async () => COLD && (await Bun.sleep(100));
  const crun = new CrunInNamespace();
  const rows: Row[] = [];
  const samples: Record<string, number[]> = {};
  const add = (k: string, ms: number) => (samples[k] ??= []).push(ms);
  try {
    for (let i = 0; i < RUNS; i++) {
      await cold(); add("lxt execute", time(L("execute", "-n", "b", "--", "/bin/true")));
      await cold(); add("lxc-execute", time(X("lxc-execute", "-n", "b", "--", "/bin/true")));
      await cold(); add("crun run", await crun.run(bundle, `c${i}`));
      await cold(); add("runc run", time(["runc", "--root", `${dir}/runc`, "run", "-b", bundle, `r${i}`]));
      await cold(); add("lxt start", time(L("start", "-n", "b")));
      await cold(); add("lxc-start", time(X("lxc-start", "-n", "b", "-d")));
      await cold(); add("lxt attach", time(L("attach", "-n", "b", "--", "/bin/true")));
      await cold(); add("lxc-attach", time(X("lxc-attach", "-n", "b", "--", "/bin/true")));
      if (i === 0) {
        const lxtInit = Number(sh(L("info", "-n", "b", "-p", "-H")).out.trim());
        const lxcInit = Number(sh(X("lxc-info", "-n", "b", "-p", "-H")).out.trim());
        const a = memoryOf(ppid(lxtInit));
        const b = memoryOf(ppid(lxcInit));
        rows.push({ op: "monitor RSS", lxt: a.rss, peer: "LXC", peerMs: b.rss, target: 1, unit: "MiB" });
        rows.push({ op: "monitor PSS", lxt: a.pss, peer: "LXC", peerMs: b.pss, target: 1, unit: "MiB" });
      }
      await cold(); add("lxt stop", time(L("stop", "-n", "b", "-k")));
      await cold(); add("lxc-stop", time(X("lxc-stop", "-n", "b", "-k")));
      add("lxt --version", time([LXT, "--version"]));
      add("lxt ls", time(L("ls")));
      add("bun -e 0", time([process.execPath, "-e", "0"]));
    }
  } finally {
    crun.close();
  }
  const m = (k: string) => median(samples[k]!);
  rows.unshift(
    { op: "execute /bin/true", lxt: m("lxt execute"), peer: "crun", peerMs: m("crun run"), target: 1.5, unit: "ms" },
    { op: "execute /bin/true", lxt: m("lxt execute"), peer: "lxc-execute", peerMs: m("lxc-execute"), target: 1, unit: "ms" },
    { op: "execute /bin/true", lxt: m("lxt execute"), peer: "runc", peerMs: m("runc run"), target: 1, unit: "ms" },
    { op: "start to RUNNING", lxt: m("lxt start"), peer: "lxc-start -d", peerMs: m("lxc-start"), target: 1, unit: "ms" },
    { op: "stop -k", lxt: m("lxt stop"), peer: "lxc-stop -k", peerMs: m("lxc-stop"), target: 1, unit: "ms" },
    { op: "attach /bin/true", lxt: m("lxt attach"), peer: "lxc-attach", peerMs: m("lxc-attach"), target: 1, unit: "ms" },
  );
  rows.push({ op: "lxt --version", lxt: m("lxt --version"), peer: "bun -e 0", peerMs: m("bun -e 0"), target: NaN, unit: "ms" });
  rows.push({ op: "lxt ls", lxt: m("lxt ls"), peer: "bun -e 0", peerMs: m("bun -e 0"), target: NaN, unit: "ms" });
  report(rows);
}

function report(rows: Row[]): void {
  if (JSON_OUT) {
    console.log(JSON.stringify({ runs: RUNS, cold: COLD, rows: rows.map((r) => ({ ...r, ratio: r.lxt / r.peerMs })) }, null, 2));
    return;
  }
  const f = (n: number) => n.toFixed(2);
  console.log(`lxt vs peers: medians of ${RUNS} runs, ${COLD ? "cold (100 ms idle before each)" : "warm (back to back)"}, ${new Date().toISOString()}`);
  console.log(`${"operation".padEnd(20)}${"lxt".padStart(9)}  ${"peer".padEnd(13)}${"peer".padStart(9)}  ${"lxt/peer".padStart(8)}  target`);
  for (const r of rows) {
    const ratio = r.lxt / r.peerMs;
    const verdict = Number.isNaN(r.target) ? "" : ratio <= r.target ? "PASS" : "MISS";
    const target = Number.isNaN(r.target) ? "" : `<= ${r.target.toFixed(1)} ${verdict}`;
    console.log(`${r.op.padEnd(20)}${`${f(r.lxt)} ${r.unit}`.padStart(9)}  ${r.peer.padEnd(13)}${`${f(r.peerMs)} ${r.unit}`.padStart(9)}  ${f(ratio).padStart(8)}  ${target}`);
  }
}

function cleanupAll(): void {
  Bun.spawnSync(L("stop", "-n", "b", "-k"), { env, stdout: "ignore", stderr: "ignore" });
  Bun.spawnSync(X("lxc-stop", "-n", "b", "-k"), { env, stdout: "ignore", stderr: "ignore" });
  Bun.spawnSync(L("destroy", "-n", "b", "-f"), { env, stdout: "ignore", stderr: "ignore" });
  Bun.spawnSync(X("lxc-destroy", "-n", "b", "-f"), { env, stdout: "ignore", stderr: "ignore" });
  rmSync(dir, { recursive: true, force: true });
}

process.on("SIGINT", () => {
  cleanupAll();
  process.exit(130);
});
try {
  await main();
} catch (e) {
  console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
} finally {
  cleanupAll();
}
