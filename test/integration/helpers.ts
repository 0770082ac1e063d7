// Integration test harness: each test gets its own lxcpath and run dir, runs
// the real compiled lxt as root, and checks afterwards that nothing leaked
// (mounts, cgroups, network devices, processes).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { expect } from "bun:test";

export const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
export const LXT = `${ROOT}/dist/lxt`;
export const isRoot = process.getuid?.() === 0;

/** Why root integration tests cannot run here, or undefined when they can. */
export function skipReason(): string | undefined {
  if (!isRoot) return "integration tests need root (they start real containers)";
  if (!existsSync(LXT)) return `${LXT} is missing: run npm install (scripts/build-cli.sh)`;
  if (!existsSync(`${ROOT}/native/build/lxt-shim`)) return "native/build/lxt-shim is missing: run scripts/build-native.sh";
  if (!existsSync("/bin/busybox")) return "busybox-static is not installed: run scripts/setup";
  return undefined;
}

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

export interface HostSnapshot {
  links: Set<string>;
  cgroups: Set<string>;
}

function links(): Set<string> {
  return new Set(readdirSync("/sys/class/net"));
}

function lxtCgroups(): Set<string> {
  const out = new Set<string>();
  const walk = (dir: string, depth: number) => {
    let ents: string[];
    try {
      ents = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch {
      return;
    }
    for (const e of ents) {
      if (e.includes("lxt")) out.add(`${dir}/${e}`);
      if (depth < 3) walk(`${dir}/${e}`, depth + 1);
    }
  };
  walk("/sys/fs/cgroup", 0);
  return out;
}

export class TestEnv {
  readonly dir: string;
  readonly lxcpath: string;
  readonly rundir: string;
  private before: HostSnapshot;

  constructor(tag: string) {
    this.dir = mkdtempSync(`/tmp/lxt-it-${tag}-`);
    this.lxcpath = `${this.dir}/lxc`;
    this.rundir = `${this.dir}/run`;
    this.before = { links: links(), cgroups: lxtCgroups() };
  }

  env(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(process.env as Record<string, string>), LXT_RUNDIR: this.rundir, LXT_DEFAULT_CONFIG: `${this.dir}/default.conf`, ...extra };
  }

  /** Runs `lxt ARGS -P lxcpath` (the -P goes right after the subcommand). */
  lxt(args: string[], o: { stdin?: string; env?: Record<string, string>; argv0?: string } = {}): Result {
    const [cmd, ...rest] = args;
    const argv = o.argv0 ? [o.argv0, "-P", this.lxcpath, ...args] : [LXT, cmd!, "-P", this.lxcpath, ...rest];
    const p = Bun.spawnSync(argv, {
      env: this.env(o.env),
      stdin: o.stdin === undefined ? "ignore" : new Blob([o.stdin]),
      stdout: "pipe",
      stderr: "pipe",
    });
    return { code: p.exitCode ?? 128 + 9, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
  }

  /** Like lxt() but the test fails with the command's stderr when it exits non-zero. */
  ok(args: string[], o: { stdin?: string; env?: Record<string, string> } = {}): string {
    const r = this.lxt(args, o);
    if (r.code !== 0) throw new Error(`lxt ${args.join(" ")} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r.stdout;
  }

  /** Processes whose command line or cwd mentions this test's directory. */
  processes(): string[] {
    const out: string[] = [];
    for (const p of readdirSync("/proc")) {
      if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, "utf8").replaceAll("\0", " ");
        if (cmd.includes(this.dir)) out.push(`${p}: ${cmd}`);
      } catch {
        // gone
      }
    }
    return out;
  }

  mounts(): string[] {
    return readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.includes(this.dir));
  }

  /** Stops what is left, then asserts nothing leaked, then removes the test dir. */
  async close(): Promise<void> {
    // Leaks are asserted; the cleanup below only keeps one failure from cascading.
    const procs = this.processes();
    const mounts = this.mounts();
    const newLinks = [...links()].filter((l) => !this.before.links.has(l));
    const newCgroups = [...lxtCgroups()].filter((c) => !this.before.cgroups.has(c));
    for (const p of procs) {
      try {
        process.kill(Number(p.split(":")[0]), 9);
      } catch {
        // gone
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
    expect({ procs, mounts, newLinks, newCgroups }).toEqual({ procs: [], mounts: [], newLinks: [], newCgroups: [] });
  }
}

export async function until(pred: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return true;
    await Bun.sleep(20);
  }
  return pred();
}
