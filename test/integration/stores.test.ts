// Backing stores on real devices this test makes (loop images, btrfs and LVM
// thin on loop devices), copies, snapshot clones, ephemeral containers,
// snapshots, quotas. Every loop device, volume group and mount made here is
// removed in afterEach, also when a test fails.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { LXT, skipReason, TestEnv, until } from "./helpers.ts";

const skip = skipReason();
if (skip) console.warn(`SKIP stores: ${skip}`);
const it = skip ? test.skip : test;
const has = (tool: string) => Bun.spawnSync(["sh", "-c", `command -v ${tool}`]).exitCode === 0;

function sh(cmd: string): string {
  const p = Bun.spawnSync(["sh", "-c", cmd], { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${cmd}: ${p.stderr.toString()}`);
  return p.stdout.toString().trim();
}

describe("backing stores", () => {
  let t: TestEnv;
  let undo: string[] = [];
  beforeEach(() => {
    if (!skip) t = new TestEnv("st");
  });
  afterEach(async () => {
    if (skip) return;
    for (const c of undo.reverse()) Bun.spawnSync(["sh", "-c", c]);
    undo = [];
    await t.close();
  });
  const loops = () => sh("losetup -a").split("\n").filter((l) => l.includes(t.dir));

  it("loop: a sized image is the container's quota (ENOSPC inside, use in info); its loop device goes when it stops; a full copy", () => {
    t.ok(["create", "-n", "l", "-t", "busybox", "-B", "loop", "--fssize", "64M"]);
    expect(readFileSync(`${t.lxcpath}/l/config`, "utf8")).toContain(`lxc.rootfs.path = loop:${t.lxcpath}/l/rootdev`);
    expect(loops()).toEqual([]); // the template's mount is gone
    t.ok(["start", "-n", "l"]);
    const r = t.lxt(["attach", "-n", "l", "--", "dd", "if=/dev/zero", "of=/fill", "bs=1M", "count=100"]);
    expect(r.stderr).toContain("No space left on device");
    expect(t.ok(["info", "-n", "l"])).toMatch(/^Disk use:\s+[\d.]+ MiB of 64\.00 MiB$/m);
    expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(`${t.lxcpath}/l/rootfs`); // mounted inside only
    t.ok(["stop", "-n", "l", "-k"]);
    expect(loops()).toEqual([]);
    t.ok(["copy", "-n", "l", "-N", "l2"]);
    expect(readFileSync(`${t.lxcpath}/l2/config`, "utf8")).toMatch(/lxc\.uts\.name = l2/);
    t.ok(["start", "-n", "l2"]);
    expect(t.ok(["attach", "-n", "l2", "--", "ls", "-la", "/fill"])).toContain("fill"); // the copy has the base's files
    t.ok(["stop", "-n", "l2", "-k"]);
    t.ok(["destroy", "-n", "l"]);
    t.ok(["destroy", "-n", "l2"]);
    const bad = t.lxt(["create", "-n", "x", "-t", "busybox", "-B", "loop", "--fssize", "lots"]);
    expect(bad.stderr).toContain("invalid --fssize `lots`");
    expect(existsSync(`${t.lxcpath}/x`)).toBe(false);
  });

  it("snapshot clone (-s) of a dir container is an overlay on it; the base cannot be destroyed under it; ephemeral (-e) goes when it stops", async () => {
    t.ok(["create", "-n", "base", "-t", "busybox"]);
    t.ok(["copy", "-n", "base", "-N", "c1", "-s"]);
    const cfg = readFileSync(`${t.lxcpath}/c1/config`, "utf8");
    expect(cfg).toContain(`lxc.rootfs.path = overlay:${t.lxcpath}/base/rootfs:${t.lxcpath}/c1/delta0`);
    expect(cfg).toMatch(/^lxc\.uts\.name = c1$/m);
    expect(cfg).toContain(`lxc.seccomp.profile = ${t.lxcpath}/c1/seccomp.policy`);
    t.ok(["start", "-n", "c1"]);
    t.ok(["attach", "-n", "c1", "--", "sh", "-c", "echo mine > /etc/motd; rm /bin/vi"]);
    expect(existsSync(`${t.lxcpath}/base/rootfs/etc/motd`)).toBe(false); // the base is untouched
    expect(existsSync(`${t.lxcpath}/base/rootfs/bin/vi`)).toBe(true);
    expect(readFileSync(`${t.lxcpath}/c1/delta0/etc/motd`, "utf8")).toBe("mine\n");
    t.ok(["stop", "-n", "c1", "-k"]);
    const d = t.lxt(["destroy", "-n", "base"]);
    expect(d.code).not.toBe(0);
    expect(d.stderr).toContain("has snapshot clones: c1");
    t.ok(["destroy", "-n", "c1"]);

    // -L: the clone's upper on a size-limited image: its quota
    t.ok(["copy", "-n", "base", "-N", "q", "-s", "-L", "16M"]);
    expect(readFileSync(`${t.lxcpath}/q/config`, "utf8")).toContain(`:${t.lxcpath}/q/delta0.img`);
    t.ok(["start", "-n", "q"]);
    expect(t.lxt(["attach", "-n", "q", "--", "dd", "if=/dev/zero", "of=/fill", "bs=1M", "count=40"]).stderr).toContain("No space left on device");
    expect(t.ok(["info", "-n", "q"])).toMatch(/^Disk use:.* of 16\.00 MiB$/m);
    t.ok(["stop", "-n", "q", "-k"]);
    expect(loops()).toEqual([]);
    t.ok(["destroy", "-n", "q"]);
    expect(t.lxt(["create", "-n", "nd", "-t", "busybox", "--fssize", "1G"]).stderr).toContain("a dir store has no size limit");

    const e = t.ok(["copy", "-n", "base", "-N", "eph", "-e"]);
    expect(e).toContain("Created eph as clone of base");
    expect(t.ok(["info", "-n", "eph", "-s", "-H"]).trim()).toBe("RUNNING");
    t.ok(["stop", "-n", "eph", "-k"]);
    expect(await until(() => !existsSync(`${t.lxcpath}/eph`), 5000)).toBe(true);
    t.ok(["destroy", "-n", "base"]); // no dependents left
  });

  it("snapshots: create with a comment, list, restore in place and as a new container, destroy; a running one is frozen for it", () => {
    t.ok(["create", "-n", "s", "-t", "busybox"]);
    writeFileSync(`${t.lxcpath}/s/rootfs/etc/version`, "one\n");
    writeFileSync(`${t.dir}/comment`, "before the upgrade\n");
    t.ok(["snapshot", "-n", "s", "-c", `${t.dir}/comment`]);
    writeFileSync(`${t.lxcpath}/s/rootfs/etc/version`, "two\n");
    t.ok(["start", "-n", "s"]);
    t.ok(["snapshot", "-n", "s"]); // running: frozen while copied
    expect(t.ok(["info", "-n", "s", "-s", "-H"]).trim()).toBe("RUNNING");
    t.ok(["stop", "-n", "s", "-k"]);
    const list = t.ok(["snapshot", "-n", "s", "-L", "-C"]);
    expect(list).toMatch(/^snap0 \(.*\/s\/snaps\) \d{4}:\d\d:\d\d \d\d:\d\d:\d\d$/m);
    expect(list).toContain("before the upgrade");
    expect(list).toMatch(/^snap1 /m);
    t.ok(["snapshot", "-n", "s", "-r", "snap0"]);
    expect(readFileSync(`${t.lxcpath}/s/rootfs/etc/version`, "utf8")).toBe("one\n");
    t.ok(["snapshot", "-n", "s", "-r", "snap1", "-N", "s2"]);
    expect(readFileSync(`${t.lxcpath}/s2/rootfs/etc/version`, "utf8")).toBe("two\n");
    t.ok(["start", "-n", "s2"]);
    expect(t.ok(["attach", "-n", "s2", "--", "hostname"]).trim()).toBe("s2");
    t.ok(["stop", "-n", "s2", "-k"]);
    expect(t.lxt(["destroy", "-n", "s"]).stderr).toContain("has snapshots");
    t.ok(["snapshot", "-n", "s", "-d", "snap0"]);
    expect(t.ok(["snapshot", "-n", "s", "-L"])).not.toContain("snap0");
    t.ok(["destroy", "-n", "s", "-s"]);
    t.ok(["destroy", "-n", "s2"]);
  });

  it("export/import: one tar with owners, modes, xattrs, device nodes and snapshots; imported onto another store type", () => {
    t.ok(["create", "-n", "x", "-t", "busybox"]);
    const rootfs = `${t.lxcpath}/x/rootfs`;
    sh(`mknod ${rootfs}/etc/mydev c 1 3 && chown 1234:5678 ${rootfs}/etc/hosts && chmod 4711 ${rootfs}/etc/hosts && setfattr -n user.lxt -v kept ${rootfs}/etc/hostname`);
    t.ok(["snapshot", "-n", "x"]);
    t.ok(["export", "-n", "x", `${t.dir}/x.tar.gz`, "--snapshots"]);
    t.ok(["import", `${t.dir}/x.tar.gz`, "-n", "y"]); // a dir store
    const y = `${t.lxcpath}/y/rootfs`;
    expect(sh(`stat -c '%F %t:%T' ${y}/etc/mydev`)).toBe("character special file 1:3");
    expect(sh(`stat -c '%u:%g %a' ${y}/etc/hosts`)).toBe("1234:5678 4711");
    expect(sh(`getfattr --only-values -n user.lxt ${y}/etc/hostname`)).toBe("kept");
    expect(readFileSync(`${t.lxcpath}/y/config`, "utf8")).toMatch(/^lxc\.uts\.name = y$/m);
    expect(t.ok(["snapshot", "-n", "y", "-L"])).toMatch(/^snap0 /m);
    t.ok(["import", `${t.dir}/x.tar.gz`, "-n", "z", "-B", "loop", "--fssize", "80M"]); // onto a loop image
    expect(readFileSync(`${t.lxcpath}/z/config`, "utf8")).toContain(`lxc.rootfs.path = loop:${t.lxcpath}/z/rootdev`);
    t.ok(["start", "-n", "z"]);
    expect(t.ok(["attach", "-n", "z", "--", "stat", "-c", "%u:%g", "/etc/hosts"]).trim()).toBe("1234:5678");
    t.ok(["stop", "-n", "z", "-k"]);
    expect(t.lxt(["import", `${t.dir}/x.tar.gz`, "-n", "y"]).stderr).toContain("Container y already exists");
    writeFileSync(`${t.dir}/junk.tar`, "not a tar");
    expect(t.lxt(["import", `${t.dir}/junk.tar`]).stderr).toContain("is not an lxt export");
    for (const n of ["x", "y", "z"]) t.ok(["destroy", "-n", n, "-s"]);
  });

  const itBtrfs = skip || !has("mkfs.btrfs") ? test.skip : test;
  itBtrfs("btrfs: a subvolume per container, a qgroup quota, native snapshot clones independent both ways", () => {
    const img = `${t.dir}/btrfs.img`;
    const mnt = `${t.dir}/btrfs`;
    sh(`truncate -s 400M ${img} && mkfs.btrfs -q ${img}`);
    mkdirSync(mnt);
    sh(`mount -o loop ${img} ${mnt}`);
    undo.push(`umount -l ${mnt}`);
    const P = `${mnt}/lxc`;
    const run = (args: string[]) => {
      const p = Bun.spawnSync([LXT, args[0]!, "-P", P, ...args.slice(1)], { env: t.env(), stdout: "pipe", stderr: "pipe" });
      return { code: p.exitCode, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
    };
    expect(run(["create", "-n", "b", "-t", "busybox", "-B", "btrfs", "--fssize", "30M"]).code).toBe(0);
    expect(sh(`btrfs subvolume show ${P}/b/rootfs`)).toContain("Name:");
    expect(run(["start", "-n", "b"]).code).toBe(0);
    expect(run(["attach", "-n", "b", "--", "dd", "if=/dev/zero", "of=/fill", "bs=1M", "count=60"]).stderr).toMatch(/Disk quota exceeded|No space left/);
    expect(run(["stop", "-n", "b", "-k"]).code).toBe(0);
    expect(run(["copy", "-n", "b", "-N", "b2", "-s"]).code).toBe(0);
    expect(readFileSync(`${P}/b2/config`, "utf8")).toContain(`lxc.rootfs.path = btrfs:${P}/b2/rootfs`);
    expect(sh(`btrfs subvolume show ${P}/b2/rootfs`)).toContain("Parent UUID:");
    // writes stay on their side, both ways (first free the quota: the clone carries the base's /fill)
    sh(`rm -f ${P}/b/rootfs/fill ${P}/b2/rootfs/fill && btrfs filesystem sync ${mnt}`);
    writeFileSync(`${P}/b/rootfs/etc/base-only`, "base\n");
    writeFileSync(`${P}/b2/rootfs/etc/clone-only`, "clone\n");
    expect(existsSync(`${P}/b2/rootfs/etc/base-only`)).toBe(false);
    expect(existsSync(`${P}/b/rootfs/etc/clone-only`)).toBe(false);
    expect(run(["destroy", "-n", "b"]).code).toBe(0); // native snapshots do not depend on the base
    expect(run(["destroy", "-n", "b2"]).code).toBe(0);
    expect(sh(`btrfs subvolume list ${mnt}`)).toBe("");
  });

});

const dmReason = skip ?? (!has("lvcreate") ? "lvm2 is not installed" : !readFileSync("/proc/misc", "utf8").includes("device-mapper") ? "this kernel has no device-mapper (no /dev/mapper/control), so LVM cannot run" : undefined);
if (dmReason && !skip) console.warn(`SKIP stores lvm: ${dmReason}`);
const itLvm = dmReason ? test.skip : test;

describe("lvm", () => {
  let t: TestEnv;
  let undo: string[] = [];
  beforeEach(() => {
    if (!dmReason) t = new TestEnv("lvm");
  });
  afterEach(async () => {
    if (dmReason) return;
    for (const c of undo.reverse()) Bun.spawnSync(["sh", "-c", c]);
    undo = [];
    await t.close();
  });
  itLvm("lvm thin: create -B lvm --thinpool --fssize --fstype, start, a thin snapshot clone, destroy removes the volumes", () => {
    const img = `${t.dir}/pv.img`;
    const vg = `lxttest${process.pid}`;
    sh(`truncate -s 400M ${img}`);
    const dev = sh(`losetup -f --show ${img}`);
    undo.push(`losetup -d ${dev}`);
    sh(`pvcreate -q ${dev} && vgcreate -q ${vg} ${dev}`);
    undo.push(`vgremove -q -f ${vg}; pvremove -q ${dev}`);
    sh(`lvcreate -q -y -L 300M -T ${vg}/pool`);
    t.ok(["create", "-n", "v", "-t", "busybox", "-B", "lvm", "--vgname", vg, "--thinpool=pool", "--fssize", "100M", "--fstype", "ext4"]);
    expect(readFileSync(`${t.lxcpath}/v/config`, "utf8")).toContain(`lxc.rootfs.path = lvm:/dev/${vg}/v`);
    t.ok(["start", "-n", "v"]);
    expect(t.ok(["attach", "-n", "v", "--", "sh", "-c", "grep ' / ' /proc/mounts"])).toContain("ext4");
    expect(t.ok(["info", "-n", "v"])).toMatch(/^Disk use:.* of 100\.00 MiB$/m);
    t.ok(["stop", "-n", "v", "-k"]);
    t.ok(["copy", "-n", "v", "-N", "v2", "-s"]);
    expect(readFileSync(`${t.lxcpath}/v2/config`, "utf8")).toContain(`lxc.rootfs.path = lvm:/dev/${vg}/v2`);
    t.ok(["start", "-n", "v2"]);
    expect(t.ok(["attach", "-n", "v2", "--", "hostname"]).trim()).toBe("v2");
    t.ok(["stop", "-n", "v2", "-k"]);
    t.ok(["destroy", "-n", "v2"]);
    t.ok(["destroy", "-n", "v"]);
    expect(sh(`lvs --noheadings -o lv_name ${vg}`).split(/\s+/).filter(Boolean)).toEqual(["pool"]);
    // a volume group that does not exist
    const bad = t.lxt(["create", "-n", "w", "-t", "busybox", "-B", "lvm", "--vgname", "lxtnosuchvg"]);
    expect(bad.stderr).toContain("volume group `lxtnosuchvg` does not exist");
    expect(existsSync(`${t.lxcpath}/w`)).toBe(false);
  });
});
