// lxc.seccomp.profile enforced by the kernel: the template's default policy
// (reject_force_umount), a custom denylist with argument comparisons, the
// filter on init and on attached processes (not with -e), and a bad policy.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { LXT, ROOT, skipReason, TestEnv } from "./helpers.ts";

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

describe("seccomp actions and bad security settings", () => {
  let t: TestEnv;
  beforeEach(() => {
    if (!skip) t = new TestEnv("sec2");
  });
  afterEach(async () => {
    if (!skip) await t.close();
  });
  // what busybox sh, its applets and lxt's init call (strace), plus the shim's last steps (setgroups/setgid/setuid, chdir, execve)
  const BASE = "arch_prctl brk clone clone3 close dup2 execve exit exit_group fcntl getpid getppid getrandom getuid mprotect newfstatat openat prctl prlimit64 readlink rseq rt_sigaction rt_sigprocmask rt_sigreturn sendfile set_robust_list set_tid_address uname wait4 write read mmap munmap ioctl lseek fstat kill setsid getpgid setpgid setgroups setgid setuid chdir";

  it("a kill rule kills with SIGSYS; an allowlist refuses everything it does not list, with its errno", () => {
    t.ok(["create", "-n", "k", "-t", "busybox"]);
    const policy = `${t.dir}/p.seccomp`;
    appendFileSync(`${t.lxcpath}/k/config`, `lxc.seccomp.profile = ${policy}\n`);
    const run = () => t.lxt(["execute", "-n", "k", "--", "/bin/sh", "-c", "echo hi; mkdir /tmp/x; echo rc=$?"]);
    writeFileSync(policy, "2\ndenylist\n[all]\nmkdir kill\nmkdirat kill\n");
    let r = run();
    expect(r.stdout).toBe("hi\nrc=159\n"); // 128 + SIGSYS
    expect(r.stderr).toContain("Bad system call");
    writeFileSync(policy, `2\nallowlist errno 1\n[all]\n${BASE.split(" ").join("\n")}\n`);
    r = run();
    expect(r.stdout).toBe("hi\nrc=1\n");
    expect(r.stderr).toContain("Operation not permitted");
    expect(existsSync(`${t.lxcpath}/k/rootfs/tmp/x`)).toBe(false);
    t.ok(["destroy", "-n", "k"]);
  });

  it("lxc.seccomp.allow_nesting: where a filter is already in force the profile is not stacked (announced) unless it is 1", () => {
    const probe = `${t.dir}/escape-probe`;
    const cc = Bun.spawnSync(["gcc", "-O2", "-o", probe, `${ROOT}/test/fixtures/escape-probe.c`], { stderr: "pipe" });
    expect(cc.stderr.toString()).toBe("");
    t.ok(["create", "-n", "n", "-t", "busybox"]);
    const policy = `${t.dir}/p.seccomp`;
    writeFileSync(policy, "2\ndenylist\n[all]\nmkdir errno 38\nmkdirat errno 38\n");
    appendFileSync(`${t.lxcpath}/n/config`, `lxc.seccomp.profile = ${policy}\n`);
    const nestedStart = () => {
      const p = Bun.spawnSync([probe, "seccomp-exec", LXT, "start", "-P", t.lxcpath, "-n", "n"], { env: t.env(), stdout: "pipe", stderr: "pipe" });
      return { code: p.exitCode, err: p.stderr.toString() };
    };
    let r = nestedStart();
    expect(r.code).toBe(0);
    expect(r.err).toContain("lxc.seccomp.profile is not loaded: a seccomp filter is already in force here");
    expect(t.lxt(["attach", "-n", "n", "--", "mkdir", "/tmp/a"]).code).toBe(0);
    t.ok(["stop", "-n", "n", "-k"]);
    appendFileSync(`${t.lxcpath}/n/config`, "lxc.seccomp.allow_nesting = 1\n");
    r = nestedStart();
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    expect(t.lxt(["attach", "-n", "n", "--", "mkdir", "/tmp/b"]).stderr).toContain("Function not implemented");
    t.ok(["stop", "-n", "n", "-k"]);
    t.ok(["destroy", "-n", "n"]);
  });

  it("bad inputs: overlapping id maps, an unknown capability, an unreadable seccomp policy: clear errors, nothing made", () => {
    const conf = `${t.dir}/bad.conf`;
    const refused = (text: string, want: string) => {
      writeFileSync(conf, text);
      const r = t.lxt(["create", "-n", "b", "-t", "busybox", "-f", conf]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(want);
      expect(existsSync(`${t.lxcpath}/b`)).toBe(false);
    };
    refused("lxc.idmap = u 0 100000 65536\nlxc.idmap = u 1000 200000 10\nlxc.idmap = g 0 100000 65536\n", `${conf}:2: lxc.idmap: \`u 1000 200000 10\` overlaps \`u 0 100000 65536\` (container ids 1000-1009)`);
    refused("lxc.idmap = g 0 100000 65536\nlxc.idmap = g 70000 100010 10\n", "(host ids 100010-100019)");
    refused("lxc.cap.drop = sys_admin sys_foo\n", `${conf}:1: lxc.cap.drop: invalid value \`sys_admin sys_foo\`: invalid capability \`sys_foo\``);
    refused(`lxc.seccomp.profile = ${t.dir}/missing.seccomp\n`, `lxc.seccomp.profile: cannot read \`${t.dir}/missing.seccomp\`: ENOENT`);
    refused(`lxc.seccomp.profile = ${t.dir}\n`, "EISDIR");
    // a policy that goes missing after create: start fails and leaves nothing behind
    t.ok(["create", "-n", "s", "-t", "busybox"]);
    appendFileSync(`${t.lxcpath}/s/config`, `lxc.seccomp.profile = ${t.dir}/gone.seccomp\n`);
    const r = t.lxt(["start", "-n", "s"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`cannot read \`${t.dir}/gone.seccomp\``);
    expect(t.ok(["info", "-n", "s", "-s", "-H"]).trim()).toBe("STOPPED");
    t.ok(["destroy", "-n", "s"]);
  });
});

describe("capabilities", () => {
  let t: TestEnv;
  beforeEach(() => {
    if (!skip) t = new TestEnv("cap");
  });
  afterEach(async () => {
    if (!skip) await t.close();
  });
  const caps = (status: string) => {
    const get = (k: string) => BigInt(`0x${new RegExp(`^${k}:\\s+([0-9a-f]+)$`, "m").exec(status)![1]}`);
    return { bnd: get("CapBnd"), prm: get("CapPrm"), eff: get("CapEff"), inh: get("CapInh"), amb: get("CapAmb") };
  };
  const bit = (n: number) => 1n << BigInt(n);

  it("lxc.cap.drop leaves init without them in every set; lxc.cap.keep keeps only those; ping needs net_raw", () => {
    t.ok(["create", "-n", "d", "-t", "busybox"]);
    appendFileSync(`${t.lxcpath}/d/config`, "lxc.net.0.type = empty\nlxc.cap.drop = net_raw CAP_SYS_ADMIN\n");
    t.ok(["start", "-n", "d"]);
    const pid = Number(t.ok(["info", "-n", "d", "-p", "-H"]).trim());
    const c = caps(readFileSync(`/proc/${pid}/status`, "utf8"));
    for (const n of [13, 21, 16, 32, 33, 25, 17]) { // net_raw, sys_admin, and the template's sys_module mac_* sys_time sys_rawio
      expect(c.bnd & bit(n)).toBe(0n);
      expect(c.prm & bit(n)).toBe(0n);
      expect(c.eff & bit(n)).toBe(0n);
    }
    expect(c.eff & bit(0)).toBe(bit(0)); // chown stays
    expect(c.inh).toBe(0n);
    expect(c.amb).toBe(0n);
    expect(t.lxt(["attach", "-n", "d", "--", "ping", "-c1", "-W1", "127.0.0.1"]).stderr).toMatch(/permission denied|Operation not permitted/i);
    t.ok(["stop", "-n", "d", "-k"]);
    writeFileSync(`${t.lxcpath}/d/config`, readFileSync(`${t.lxcpath}/d/config`, "utf8").replace(/^lxc\.cap\.drop.*$/gm, "") + "lxc.cap.keep = chown kill setuid setgid sys_admin\n");
    t.ok(["start", "-n", "d"]);
    const pid2 = Number(t.ok(["info", "-n", "d", "-p", "-H"]).trim());
    const k = caps(readFileSync(`/proc/${pid2}/status`, "utf8"));
    const want = bit(0) | bit(5) | bit(7) | bit(6) | bit(21);
    expect(k.bnd).toBe(want);
    expect(k.eff).toBe(want);
    t.ok(["stop", "-n", "d", "-k"]);
    t.ok(["destroy", "-n", "d"]);
  });
});

describe("the container's view", () => {
  let t: TestEnv;
  beforeEach(() => {
    if (!skip) t = new TestEnv("view");
  });
  afterEach(async () => {
    if (!skip) await t.close();
  });

  it("proc:mixed and sys:mixed: read-only but for the container's own network; sysrq masked; only fds 0-2 reach init; the old root is gone", () => {
    t.ok(["create", "-n", "v", "-t", "busybox"]);
    appendFileSync(`${t.lxcpath}/v/config`, "lxc.init.cmd = /bin/sleep 1000\n");
    t.ok(["start", "-n", "v"]);
    const sh = (cmd: string) => t.lxt(["attach", "-n", "v", "--", "sh", "-c", cmd]);
    expect(sh("echo 1 > /proc/sys/kernel/panic").stderr).toContain("Read-only file system");
    expect(sh("echo 1 > /proc/sys/net/ipv4/ip_forward && cat /proc/sys/net/ipv4/ip_forward").stdout.trim()).toBe("1");
    expect(sh("echo x > /sys/kernel/uevent_helper").stderr).toContain("Read-only file system");
    expect(sh("ls /sys/devices/virtual/net").stdout.trim()).toBe("lo");
    // /dev/null is mounted over /proc/sysrq-trigger (checked by its device numbers; never written here);
    // this kernel may have no sysrq at all
    if (existsSync("/proc/sysrq-trigger")) expect(sh("stat -c %t:%T /proc/sysrq-trigger").stdout.trim()).toBe("1:3");
    const pid = Number(t.ok(["info", "-n", "v", "-p", "-H"]).trim());
    expect(readdirSync(`/proc/${pid}/fd`).sort()).toEqual(["0", "1", "2"]);
    // no mount point shows a host path (field 5 of mountinfo; field 4 is the path inside the source fs)
    const points = sh("cat /proc/self/mountinfo").stdout.trim().split("\n").map((l) => l.split(" ")[4]!);
    expect(points.filter((p) => p.startsWith("/work") || p.startsWith("/tmp/lxt"))).toEqual([]);
    expect(sh("ls /proc/1/root/").stdout).not.toContain("work");
    t.ok(["stop", "-n", "v", "-k"]);
    t.ok(["destroy", "-n", "v"]);
  });

  it("an AppArmor or SELinux setting this host cannot apply is announced, not silently dropped", () => {
    t.ok(["create", "-n", "l", "-t", "busybox"]);
    appendFileSync(`${t.lxcpath}/l/config`, "lxc.apparmor.profile = lxc-container-default-cgns\nlxc.selinux.context = system_u:system_r:container_t:s0\n");
    const r = t.lxt(["start", "-n", "l"]);
    expect(r.code).toBe(0);
    const hasAA = existsSync("/sys/module/apparmor/parameters/enabled");
    if (!hasAA) expect(r.stderr).toContain("warning: lxc.apparmor.profile = lxc-container-default-cgns is not applied: this host has no AppArmor");
    if (!existsSync("/sys/fs/selinux/enforce")) expect(r.stderr).toContain("warning: lxc.selinux.context = system_u:system_r:container_t:s0 is not applied: this host has no SELinux");
    t.ok(["stop", "-n", "l", "-k"]);
    t.ok(["destroy", "-n", "l"]);
  });
});
