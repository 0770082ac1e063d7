// Copy-on-write clones at scale, and the stores' bad inputs: a snapshot
// clone of a base padded to 1 GiB costs no more disk than one of a bare base;
// 100 snapshot clones of one base start (in batches) and stop; each bad store
// input is a clear error that leaves nothing behind (a volume group made
// here on a loop device: LVM metadata needs no device-mapper).
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { skipReason, TestEnv } from "./helpers.ts";

const skip = skipReason();
if (skip) console.warn(`SKIP clones: ${skip}`);
const it = skip ? test.skip : test;

function sh(cmd: string): string {
  const p = Bun.spawnSync(["sh", "-c", cmd], { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${cmd}: ${p.stderr.toString()}`);
  return p.stdout.toString().trim();
}
/** Disk blocks in use below PATH, in KiB (what du counts: sparse and shared-nothing). */
const du = (path: string) => Number(sh(`du -sk ${path}`).split(/\s+/)[0]);

describe("clones", () => {
  let t: TestEnv;
  let undo: string[] = [];
  beforeEach(() => {
    if (!skip) t = new TestEnv("cl");
  });
  afterEach(async () => {
    if (skip) return;
    for (const c of undo.reverse()) Bun.spawnSync(["sh", "-c", c]);
    undo = [];
    await t.close();
  });

  it("a snapshot clone of a base padded to 1 GiB costs the same near-zero disk as one of a bare base; writes stay on their side", () => {
    t.ok(["create", "-n", "base", "-t", "busybox"]);
    const clone = (n: string) => {
      const t0 = performance.now();
      t.ok(["copy", "-n", "base", "-N", n, "-s"]);
      return performance.now() - t0;
    };
    const bare = clone("c0");
    sh(`fallocate -l 1G ${t.lxcpath}/base/rootfs/padding`);
    expect(du(`${t.lxcpath}/base/rootfs`)).toBeGreaterThan(1024 * 1024);
    const padded = clone("c1");
    console.log(`clones: snapshot clone of a bare base ${bare.toFixed(0)} ms, of a 1 GiB base ${padded.toFixed(0)} ms`);
    for (const n of ["c0", "c1"]) expect(du(`${t.lxcpath}/${n}`)).toBeLessThan(256); // KiB: a config and an empty upper
    t.ok(["start", "-n", "c1"]);
    expect(t.ok(["attach", "-n", "c1", "--", "stat", "-c", "%s", "/padding"]).trim()).toBe(String(1024 ** 3));
    t.ok(["attach", "-n", "c1", "--", "sh", "-c", "echo clone > /etc/motd; rm /padding"]);
    expect(existsSync(`${t.lxcpath}/base/rootfs/etc/motd`)).toBe(false);
    expect(existsSync(`${t.lxcpath}/base/rootfs/padding`)).toBe(true);
    expect(du(`${t.lxcpath}/c1`)).toBeLessThan(256);
    t.ok(["stop", "-n", "c1", "-k"]);
    for (const n of ["c0", "c1", "base"]) t.ok(["destroy", "-n", n]);
  });

  it("100 snapshot clones of one base: disk use reported, all start (20 at a time) and stop", () => {
    t.ok(["create", "-n", "base", "-t", "busybox"]);
    const names = Array.from({ length: 100 }, (_, i) => `c${i}`);
    for (const n of names) t.ok(["copy", "-n", "base", "-N", n, "-s"]);
    const each = names.map((n) => du(`${t.lxcpath}/${n}`));
    const total = each.reduce((a, b) => a + b, 0);
    console.log(`clones: 100 snapshot clones use ${total} KiB in all (the base: ${du(`${t.lxcpath}/base`)} KiB)`);
    expect(total).toBeLessThan(100 * 256);
    for (let b = 0; b < names.length; b += 20) {
      const batch = names.slice(b, b + 20);
      for (const n of batch) t.ok(["start", "-n", n]);
      const running = t.ok(["ls", "--running"]).split(/\s+/).filter(Boolean);
      for (const n of batch) expect(running).toContain(n);
      for (const n of batch) expect(t.ok(["attach", "-n", n, "--", "hostname"]).trim()).toBe(n);
      for (const n of batch) t.ok(["stop", "-n", n, "-k"]);
    }
    expect(t.ok(["ls", "--running"]).trim()).toBe("");
    expect(t.lxt(["destroy", "-n", "base"]).stderr).toContain("has snapshot clones");
    for (const n of names) t.ok(["destroy", "-n", n]);
    t.ok(["destroy", "-n", "base"]);
    expect(readdirSync(t.lxcpath)).toEqual([]);
  });

  it("bad store inputs: unknown type, missing volume group, missing thin pool, fssize too small, copy onto an existing name, a base with clones", () => {
    const refused = (args: string[], want: string) => {
      const r = t.lxt(args);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(want);
      expect(existsSync(`${t.lxcpath}/b`)).toBe(false);
      expect(sh("losetup -a")).not.toContain(t.dir);
    };
    refused(["create", "-n", "b", "-t", "busybox", "-B", "foo"], "foo is not a valid backing storage type");
    refused(["create", "-n", "b", "-t", "busybox", "-B", "lvm", "--vgname", "lxtnosuchvg"], "volume group `lxtnosuchvg` does not exist");
    refused(["create", "-n", "b", "-t", "busybox", "-B", "loop", "--fssize", "1M"], "the rootfs does not fit in its store");
    // a real volume group (metadata only) without the pool asked for
    const vg = `lxtcl${process.pid % 100000}`;
    sh(`truncate -s 64M ${t.dir}/pv.img`);
    const dev = sh(`losetup -f --show ${t.dir}/pv.img`);
    undo.push(`losetup -d ${dev}`);
    sh(`pvcreate -q ${dev} && vgcreate -q ${vg} ${dev}`);
    undo.push(`vgremove -q -f ${vg}; pvremove -q ${dev}`);
    const r = t.lxt(["create", "-n", "b", "-t", "busybox", "-B", "lvm", "--vgname", vg, "--thinpool=nopool", "--fssize", "32M"]);
    expect(r.stderr).toContain(`thin pool \`${vg}/nopool\` does not exist`);
    expect(existsSync(`${t.lxcpath}/b`)).toBe(false);
    expect(sh(`lvs --noheadings -o lv_name ${vg}`)).toBe("");
    // copies
    t.ok(["create", "-n", "a", "-t", "busybox"]);
    t.ok(["create", "-n", "c", "-t", "busybox"]);
    for (const extra of [[], ["-s"]]) {
      const c = t.lxt(["copy", "-n", "a", "-N", "c", ...extra]);
      expect(c.stderr).toContain("Container c already exists");
    }
    t.ok(["copy", "-n", "a", "-N", "s", "-s"]);
    const d = t.lxt(["destroy", "-n", "a"]);
    expect(d.stderr).toContain("has snapshot clones: s");
    expect(existsSync(`${t.lxcpath}/a/rootfs/bin/busybox`)).toBe(true);
    for (const n of ["s", "a", "c"]) t.ok(["destroy", "-n", n]);
  });
});
