// The sshd template: the host's own sshd in an application container, the
// host's /usr read-only, the container's own host keys and /root. On a
// managed bridge made here (its own subnet, 10.231.9.0/24), the container
// takes its address by DHCP from the bridge's real dnsmasq, and the host logs
// in with ssh and a key given at create.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { skipReason, TestEnv, until } from "./helpers.ts";

const skip = skipReason() ?? (existsSync("/usr/sbin/sshd") && existsSync("/usr/bin/ssh") ? undefined : "openssh-server/openssh-client are not installed (scripts/setup installs them)");
if (skip) console.warn(`SKIP sshd: ${skip}`);
const it = skip ? test.skip : test;
const tag = (process.pid % 1000).toString().padStart(3, "0");

function host(argv: string[]): { code: number; out: string; err: string } {
  const p = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode ?? 1, out: p.stdout.toString(), err: p.stderr.toString() };
}

describe("sshd template", () => {
  let t: TestEnv;
  beforeEach(() => {
    if (!skip) t = new TestEnv("sshd");
  });
  afterEach(async () => {
    if (!skip) await t.close();
  });

  it("runs the host's sshd with its own keys; the host logs in over the managed bridge; stop ends it with SIGTERM", async () => {
    const br = `lxts${tag}`;
    const env = { LXT_NET_RUNDIR: `${t.dir}/net` };
    t.ok(["net", "start", "--bridge", br, "--subnet", "10.231.9.1/24"], { env });
    try {
      expect(host(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", `${t.dir}/key`]).code).toBe(0);
      Bun.write(`${t.dir}/net.conf`, `lxc.net.0.type = veth\nlxc.net.0.link = ${br}\nlxc.net.0.flags = up\n`);
      t.ok(["create", "-n", "s", "-t", "sshd", "-f", `${t.dir}/net.conf`, "--", "--auth-key", `${t.dir}/key.pub`]);
      const rootfs = `${t.lxcpath}/s/rootfs`;
      // its own host key, not the host's
      const own = readFileSync(`${rootfs}/etc/ssh/ssh_host_ed25519_key.pub`, "utf8").split(" ")[1];
      if (existsSync("/etc/ssh/ssh_host_ed25519_key.pub")) expect(readFileSync("/etc/ssh/ssh_host_ed25519_key.pub", "utf8")).not.toContain(own!);
      t.ok(["start", "-n", "s"], { env });
      expect(await until(() => /^10\.231\.9\.\d+$/m.test(t.lxt(["info", "-n", "s", "-i", "-H"]).stdout), 10_000)).toBe(true);
      const addr = t.ok(["info", "-n", "s", "-i", "-H"]).trim();
      const ssh = (cmd: string) =>
        host(["ssh", "-i", `${t.dir}/key`, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${t.dir}/known_hosts`, "-o", "ConnectTimeout=5", `root@${addr}`, cmd]);
      // the host trusts exactly the container's own key
      Bun.write(`${t.dir}/known_hosts`, `${addr} ssh-ed25519 ${own}\n`);
      let r = ssh("true");
      for (let i = 0; i < 50 && r.code === 255 && /refused/.test(r.err); i++) {
        await Bun.sleep(100);
        r = ssh("true");
      }
      expect(r.err).toBe("");
      r = ssh("id -u; hostname; tr '\\0' ' ' < /proc/1/cmdline; echo; touch /usr/x 2>&1; touch /root/y && echo home-ok");
      const lines = r.out.trim().split("\n");
      expect(lines[0]).toBe("0");
      expect(lines[1]).toBe("s");
      expect(lines[2]).toMatch(/^sshd: \/usr\/sbin\/sshd -D -e/);
      expect(lines[3]).toContain("Read-only file system");
      expect(lines[4]).toBe("home-ok");
      expect(existsSync(`${rootfs}/root/y`)).toBe(true);
      // a key it was not given is refused
      expect(host(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", `${t.dir}/other`]).code).toBe(0);
      const bad = host(["ssh", "-i", `${t.dir}/other`, "-o", "BatchMode=yes", "-o", `UserKnownHostsFile=${t.dir}/known_hosts`, `root@${addr}`, "true"]);
      expect(bad.code).toBe(255);
      expect(bad.err).toContain("Permission denied (publickey)");
      const t0 = Date.now();
      t.ok(["stop", "-n", "s", "-t", "20"]);
      expect(Date.now() - t0).toBeLessThan(10_000); // sshd ended on lxc.signal.halt, not by the timeout's SIGKILL
      t.ok(["destroy", "-n", "s"]);
    } finally {
      t.lxt(["stop", "-n", "s", "-k"]);
      t.lxt(["destroy", "-n", "s"]);
      t.ok(["net", "stop", "--bridge", br], { env });
    }
  });

  it("bad input: a missing or malformed --auth-key and an unknown argument fail the create and leave nothing", () => {
    Bun.write(`${t.dir}/notakey.pub`, "hello\n");
    for (const [args, want] of [
      [["--auth-key", `${t.dir}/missing.pub`], `--auth-key ${t.dir}/missing.pub: no such file`],
      [["--auth-key", `${t.dir}/notakey.pub`], "is not an OpenSSH public key"],
      [["--bogus"], "unknown argument `--bogus`"],
    ] as const) {
      const r = t.lxt(["create", "-n", "b", "-t", "sshd", "--", ...args]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(want);
      expect(existsSync(`${t.lxcpath}/b`)).toBe(false);
    }
  });
});
