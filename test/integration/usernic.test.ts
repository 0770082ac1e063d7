// lxt-user-nic, the setuid helper, run as an ordinary user it makes here:
// a granted veth lands in that user's own network namespace on the bridge;
// another user's namespace, the host's, a bridge not granted, a quota, and
// names that are paths are refused. The usernet file is the real one
// (/etc/lxt/lxt-usernet: a setuid program takes no override), saved and put
// back; the user, bridge and processes are removed afterwards.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { ROOT, skipReason, TestEnv, until } from "./helpers.ts";

const HELPER = `${ROOT}/native/build/lxt-user-nic`;
const skip = skipReason() ?? (existsSync(HELPER) ? undefined : `${HELPER} is missing (scripts/build-native.sh)`);
if (skip) console.warn(`SKIP usernic: ${skip}`);
const it = skip ? test.skip : test;
const USERNET = "/etc/lxt/lxt-usernet";

function sh(cmd: string, ok = true): { code: number; out: string; err: string } {
  const p = Bun.spawnSync(["sh", "-c", cmd], { stdout: "pipe", stderr: "pipe" });
  const r = { code: p.exitCode ?? 1, out: p.stdout.toString(), err: p.stderr.toString() };
  if (ok && r.code !== 0) throw new Error(`${cmd}: ${r.err}`);
  return r;
}

describe("lxt-user-nic", () => {
  let t: TestEnv;
  const tag = (process.pid % 100000).toString();
  const user = `lxtnic${tag}`;
  const br = `lxtu${tag}`;
  const started: number[] = [];
  beforeEach(() => {
    if (skip) return;
    t = new TestEnv("unic");
    sh(`useradd -M -s /usr/sbin/nologin ${user}`);
    sh(`ip link add ${br} type bridge && ip link set ${br} up`);
    if (existsSync(USERNET)) renameSync(USERNET, `${USERNET}.lxt-test-saved`);
    sh("mkdir -p /etc/lxt");
  });
  afterEach(async () => {
    if (skip) return;
    for (const p of started.splice(0)) {
      try {
        process.kill(p, 9);
      } catch {
        // gone
      }
    }
    rmSync(USERNET, { force: true });
    if (existsSync(`${USERNET}.lxt-test-saved`)) renameSync(`${USERNET}.lxt-test-saved`, USERNET);
    sh(`ip link del ${br}`, false);
    sh(`userdel ${user}`, false);
    // nics db lines of the test user
    if (existsSync("/run/lxt/nics")) writeFileSync("/run/lxt/nics", readFileSync("/run/lxt/nics", "utf8").split("\n").filter((l) => !l.startsWith(`${user} `)).join("\n"));
    await t.close();
  });

  /** A process of the test user in its own user+network namespace (or the host's with own=false). */
  async function userProc(own = true): Promise<number> {
    const p = Bun.spawn(["setpriv", `--reuid=${user}`, `--regid=${user}`, "--clear-groups", ...(own ? ["unshare", "-Urn"] : []), "sleep", "60"], { stdout: "ignore", stderr: "ignore" });
    started.push(p.pid);
    // unshare execs sleep in the same process
    await until(() => readFileSync(`/proc/${p.pid}/cmdline`, "utf8").startsWith("sleep"), 3000);
    return p.pid;
  }
  const asUser = (args: string[]) => sh(`setpriv --reuid=${user} --regid=${user} --clear-groups ${HELPER} ${args.join(" ")}`, false);

  it("creates a granted veth in the caller's namespace on the bridge, deletes it, and refuses everything else", async () => {
    writeFileSync(USERNET, `# test\n${user} veth ${br} 1\n`);
    const pid = await userProc();
    const r = asUser(["create", "/tmp", "c", String(pid), "veth", br, "eth0"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const [inside, host] = r.out.trim().split(":");
    expect(inside).toBe("eth0");
    expect(readFileSync(`/sys/class/net/${host}/master/uevent`, "utf8")).toContain(`INTERFACE=${br}`);
    expect(sh(`nsenter --net=/proc/${pid}/ns/net ip -o link show eth0`).out).toContain("eth0@");

    // quota: one granted
    const pid2 = await userProc();
    expect(asUser(["create", "/tmp", "c2", String(pid2), "veth", br, "eth0"]).err).toContain("quota reached");
    // a bridge not granted
    sh(`ip link add ${br}x type bridge`);
    try {
      expect(asUser(["create", "/tmp", "c2", String(pid2), "veth", `${br}x`, "eth0"]).err).toContain(`not allowed to create veth interfaces on ${br}x`);
    } finally {
      sh(`ip link del ${br}x`, false);
    }
    // another user's namespace (root's), and the host's
    const rootNs = Bun.spawn(["unshare", "-n", "sleep", "60"], { stdout: "ignore" });
    started.push(rootNs.pid);
    await until(() => readFileSync(`/proc/${rootNs.pid}/cmdline`, "utf8").startsWith("sleep"), 3000);
    expect(asUser(["create", "/tmp", "c3", String(rootNs.pid), "veth", br, "eth0"]).err).toContain("not your process");
    const hostPid = await userProc(false);
    expect(asUser(["create", "/tmp", "c4", String(hostPid), "veth", br, "eth0"]).err).toContain("is the host's network namespace");
    // names that are paths, a pid that is not a number, another type
    expect(asUser(["create", "/tmp", "c5", String(pid2), "veth", br, "../etc"]).err).toContain("invalid interface name");
    expect(asUser(["create", "/tmp", "c5", String(pid2), "veth", "a/b", "eth0"]).err).toContain("invalid bridge name");
    expect(asUser(["create", "/tmp", "c5", "1/../1", "veth", br, "eth0"]).err).toContain("invalid pid");
    expect(asUser(["create", "/tmp", "c5", String(pid2), "macvlan", br, "eth0"]).err).toContain("only veth");
    // delete: only its own NIC
    expect(asUser(["delete", "/tmp", "c", `/proc/${pid}/ns/net`, "veth", br, "vethnotmine"]).err).toContain("is not a NIC of yours");
    expect(asUser(["delete", "/tmp", "c", `/proc/${pid}/ns/net`, "veth", br, host!]).code).toBe(0);
    expect(existsSync(`/sys/class/net/${host}`)).toBe(false);
    // the quota is free again
    const again = asUser(["create", "/tmp", "c", String(pid), "veth", br, "eth1"]);
    expect(again.code).toBe(0);
    asUser(["delete", "/tmp", "c", `/proc/${pid}/ns/net`, "veth", br, again.out.trim().split(":")[1]!]);
  });
});
