import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { findTemplate } from "../../src/templates/index.ts";

const haveBusybox = existsSync("/bin/busybox");
const it = haveBusybox ? test : test.skip;
if (!haveBusybox) console.warn("SKIP busybox template: /bin/busybox missing (scripts/setup installs busybox-static)");

describe("busybox template", () => {
  const dir = mkdtempSync("/tmp/lxt-tpl-");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("makes a bootable busybox tree and returns LXC's template keys", async () => {
    const t = await findTemplate("busybox");
    const keys = await t.create({ name: "web", path: dir, rootfs: `${dir}/rootfs`, args: [] });
    const r = `${dir}/rootfs`;
    expect(statSync(`${r}/bin/busybox`).mode & 0o111).toBeTruthy();
    expect(lstatSync(`${r}/sbin/init`).isSymbolicLink()).toBe(true);
    expect(readlinkSync(`${r}/bin/sh`)).toBe("/bin/busybox");
    expect(readFileSync(`${r}/etc/passwd`, "utf8")).toStartWith("root:x:0:0:");
    expect(readFileSync(`${r}/etc/inittab`, "utf8")).toContain("::sysinit:/etc/init.d/rcS");
    expect(statSync(`${r}/tmp`).mode & 0o7777).toBe(0o1777);
    expect(keys).toContainEqual(["lxc.uts.name", "web"]);
    expect(keys).toContainEqual(["lxc.signal.halt", "SIGUSR1"]);
  });

  it("runs udhcpc only on an eth0 without an address (a static address survives)", () => {
    const rcs = readFileSync(`${dir}/rootfs/etc/init.d/rcS`, "utf8");
    expect(rcs).toMatch(/if \[ -e \/sys\/class\/net\/eth0 \] && ! ip -4 addr show dev eth0/);
    const script = readFileSync(`${dir}/rootfs/usr/share/udhcpc/default.script`, "utf8");
    // deconfig removes only the address udhcpc itself recorded
    expect(script).toMatch(/deconfig\)\n\s+if \[ -f "\$state" \]/);
    expect(script).not.toMatch(/ip addr flush/);
  });

  test("unknown template and bad template argument are clear errors", async () => {
    await expect(findTemplate("nosuchtemplate")).rejects.toThrow("template `nosuchtemplate` not found");
    if (!haveBusybox) return;
    const t = await findTemplate("busybox");
    expect(() => t.create({ name: "x", path: dir, rootfs: `${dir}/r2`, args: ["--bogus"] })).toThrow("unknown argument `--bogus`");
  });
});
