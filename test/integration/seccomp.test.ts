// lxc.seccomp.profile enforced by the kernel: the template's default policy
// (reject_force_umount), a custom denylist with argument comparisons, the
// filter on init and on attached processes (not with -e), and a bad policy.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { skipReason, TestEnv } from "./helpers.ts";

const skip = skipReason();
if (skip) console.warn(`SKIP seccomp: ${skip}`);
const it = skip ? test.skip : test;

describe("seccomp", () => {
  let t: TestEnv;
  beforeEach(() => {
    if (!skip) t = new TestEnv("sec");
  });
  afterEach(async () => {
    if (!skip) await t.close();
  });

  it("the default policy of new containers and a custom one are enforced on init and attached processes", () => {
    t.ok(["create", "-n", "s", "-t", "busybox"]);
    expect(readFileSync(`${t.lxcpath}/s/config`, "utf8")).toContain(`lxc.seccomp.profile = ${t.lxcpath}/s/seccomp.policy`);
    t.ok(["start", "-n", "s"]);
    const pid = Number(t.ok(["info", "-n", "s", "-p", "-H"]).trim());
    expect(readFileSync(`/proc/${pid}/status`, "utf8")).toMatch(/^Seccomp:\s+2$/m);
    const sh = (cmd: string, extra: string[] = []) => t.lxt(["attach", "-n", "s", ...extra, "--", "sh", "-c", cmd]);
    expect(sh("mount -t tmpfs none /mnt && umount -f /mnt").stderr).toContain("Permission denied"); // reject_force_umount
    expect(sh("mount -t tmpfs none /mnt && umount /mnt && echo ok").stdout.trim()).toBe("ok");
    t.ok(["stop", "-n", "s", "-k"]);

    const policy = `${t.dir}/custom.seccomp`;
    writeFileSync(policy, "2\ndenylist\n[all]\nmkdir errno 38\nmkdirat errno 38\nchmod errno 1 [1,0x1ff,SCMP_CMP_EQ]\nfchmodat errno 1 [2,0x1ff,SCMP_CMP_EQ]\n[arm64]\nsomething_else kill\n");
    appendFileSync(`${t.lxcpath}/s/config`, `lxc.seccomp.profile = ${policy}\n`);
    t.ok(["start", "-n", "s"]);
    expect(sh("mkdir /tmp/x").stderr).toContain("Function not implemented");
    expect(sh("touch /tmp/f && chmod 777 /tmp/f").stderr).toContain("Operation not permitted");
    expect(sh("chmod 755 /tmp/f && echo ok").stdout.trim()).toBe("ok");
    expect(sh("mkdir /tmp/y && echo ok", ["-e"]).stdout.trim()).toBe("ok"); // elevated: no filter
    t.ok(["stop", "-n", "s", "-k"]);

    writeFileSync(policy, "2\ndenylist\nmkdri errno 1\n");
    const r = t.lxt(["start", "-n", "s"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${policy}:3: unknown system call \`mkdri\``);
    t.ok(["destroy", "-n", "s"]);
  });
});
