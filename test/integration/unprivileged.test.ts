// An ordinary user's unprivileged container, end to end: the user (made
// here, with the subordinate ids useradd gives it) runs lxt with its own home
// and runtime dir: create (ids from /etc/subuid, rootfs given to the mapped
// root through a user namespace), start (newuidmap; no cgroup without
// delegation, announced), attach as root inside, stop, destroy.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { LXT, skipReason } from "./helpers.ts";
import { buildImage } from "./oci-image.ts";

const has = (p: string) => existsSync(p) && (statSync(p).mode & 0o4000) !== 0;
const skip = skipReason() ?? (has("/usr/bin/newuidmap") && has("/usr/bin/newgidmap") ? undefined : "newuidmap/newgidmap are not installed setuid (uidmap)");
if (skip) console.warn(`SKIP unprivileged: ${skip}`);
const it = skip ? test.skip : test;

function sh(cmd: string, ok = true): { code: number; out: string; err: string } {
  const p = Bun.spawnSync(["sh", "-c", cmd], { stdout: "pipe", stderr: "pipe" });
  const r = { code: p.exitCode ?? 1, out: p.stdout.toString(), err: p.stderr.toString() };
  if (ok && r.code !== 0) throw new Error(`${cmd}: ${r.err}`);
  return r;
}

describe("unprivileged containers of an ordinary user", () => {
  const user = `lxtup${process.pid % 100000}`;
  let home = "";
  let xdg = "";
  beforeEach(() => {
    if (skip) return;
    sh(`useradd -M -s /bin/sh ${user}`);
    if (!readFileSync("/etc/subuid", "utf8").includes(`${user}:`)) {
      sh(`echo ${user}:600000:65536 >> /etc/subuid; echo ${user}:600000:65536 >> /etc/subgid`);
    }
    home = mkdtempSync("/tmp/lxt-it-uhome-");
    xdg = mkdtempSync("/tmp/lxt-it-uxdg-");
    const uid = Number(sh(`id -u ${user}`).out.trim());
    for (const d of [home, xdg]) chownSync(d, uid, uid);
    chmodSync(home, 0o755);
    chmodSync(xdg, 0o700);
  });
  afterEach(() => {
    if (skip) return;
    // the container's files are the user's subordinate ids: remove as root
    rmSync(home, { recursive: true, force: true });
    rmSync(xdg, { recursive: true, force: true });
    sh(`userdel ${user}`, false);
    sh(`sed -i '/^${user}:/d' /etc/subuid /etc/subgid`, false);
    expect(sh(`ps -u ${user} -o pid=`, false).out.trim()).toBe("");
  });
  const lxt = (...args: string[]) => sh(`setpriv --reuid=${user} --regid=${user} --init-groups env -i HOME=${home} USER=${user} XDG_RUNTIME_DIR=${xdg} PATH=/usr/sbin:/usr/bin:/sbin:/bin ${LXT} ${args.join(" ")}`, false);

  /** lxt console as the user: sends INPUT, reads until WANT shows (5 s at most), leaves with Ctrl+a q. */
  async function consoleAsUser(args: string[], input: string, want: string): Promise<string> {
    const p = Bun.spawn(["setpriv", `--reuid=${user}`, `--regid=${user}`, "--init-groups", "env", "-i", `HOME=${home}`, `USER=${user}`, `XDG_RUNTIME_DIR=${xdg}`, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", LXT, "console", "-n", "u", ...args], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    let out = "";
    const reader = (async () => {
      for await (const chunk of p.stdout) out += new TextDecoder().decode(chunk);
    })();
    await Bun.sleep(200);
    p.stdin.write(input);
    await p.stdin.flush();
    for (let i = 0; i < 50 && !out.includes(want); i++) await Bun.sleep(100);
    p.stdin.write("\x01q");
    await p.stdin.flush();
    const code = await Promise.race([p.exited, Bun.sleep(3000).then(() => -1)]);
    if (code === -1) p.kill();
    await reader;
    return out;
  }

  it("create, start, attach as root of the user namespace, console and tty, stop, destroy; all in the user's home", async () => {
    const c = lxt("create", "-n", "u", "-t", "busybox");
    expect(c.err).toBe("");
    expect(c.code).toBe(0);
    const cfg = readFileSync(`${home}/.local/share/lxt/u/config`, "utf8");
    const sub = /^lxc\.idmap = u 0 (\d+) (\d+)$/m.exec(cfg);
    expect(sub).not.toBeNull();
    expect(statSync(`${home}/.local/share/lxt/u/rootfs/bin/busybox`).uid).toBe(Number(sub![1]));
    const s = lxt("start", "-n", "u");
    expect(s.code).toBe(0);
    if (!existsSync("/sys/fs/cgroup/cgroup.subtree_control")) expect(s.err).toContain("warning: no cgroup for u");
    const a = lxt("attach", "-n", "u", "--", "sh", "-c", "'id -u; cat /proc/self/uid_map; hostname'");
    expect(a.out.trim().split(/\s+/)).toEqual(["0", "0", sub![1]!, sub![2]!, "u"]);
    expect(lxt("ls", "--fancy").out).toMatch(/^u\s+RUNNING\s.*true\s*$/m);
    // the console and the ttys are the container root's, in its own devpts: a shell on
    // the console answers, and the getty on tty1 prompts
    expect(await consoleAsUser(["-t", "0"], "echo con$((6*7))sole\n", "con42sole")).toContain("con42sole");
    expect(await consoleAsUser(["-t", "1"], "\n", "login:")).toContain("login:");
    expect(existsSync(`${xdg}/lxt/u/state`)).toBe(true); // its run dir is in the user's runtime dir
    if (!existsSync("/sys/fs/cgroup/cgroup.subtree_control")) expect(lxt("freeze", "-n", "u").err).toContain(`u has no cgroup (none is delegated to ${user}), so it cannot be frozen`);
    expect(lxt("stop", "-n", "u", "-k").code).toBe(0);
    expect(lxt("destroy", "-n", "u").code).toBe(0);
    expect(existsSync(`${home}/.local/share/lxt/u`)).toBe(false);
  });

  it("a map outside the user's subordinate ids is refused at create and at start, before anything is made", () => {
    const conf = `${home}/bad.conf`;
    writeFileSync(conf, "lxc.idmap = u 0 1000 65536\nlxc.idmap = g 0 1000 65536\n");
    chmodSync(conf, 0o644);
    const c = lxt("create", "-n", "x", "-t", "busybox", "-f", conf);
    expect(c.code).not.toBe(0);
    expect(c.err).toMatch(new RegExp(`lxc\\.idmap = u 0 1000 65536 maps host ids 1000-66535, outside what /etc/subuid grants ${user} \\(\\d+-\\d+\\)`));
    expect(existsSync(`${home}/.local/share/lxt/x`)).toBe(false);
    // the same map written into a container's config afterwards: start refuses it
    expect(lxt("create", "-n", "y", "-t", "busybox").code).toBe(0);
    const cfg = `${home}/.local/share/lxt/y/config`;
    writeFileSync(cfg, readFileSync(cfg, "utf8").replace(/^lxc\.idmap = g 0 \d+/m, "lxc.idmap = g 0 1000"));
    const s = lxt("start", "-n", "y");
    expect(s.code).not.toBe(0);
    expect(s.err).toContain("lxc.idmap = g 0 1000 65536 maps host ids 1000-66535, outside what /etc/subgid grants");
    expect(existsSync(`${xdg}/lxt/y/state`)).toBe(false);
    expect(lxt("destroy", "-n", "y").code).toBe(0);
  });

  (skip || !existsSync("/sys/fs/cgroup/pids/tasks") ? test.skip : test)("with cgroups delegated by root (lxt delegate): limits hold, use is accounted, freeze works; removed again after", () => {
    const uid = Number(sh(`id -u ${user}`).out.trim());
    const d = sh(`${LXT} delegate ${user}`);
    expect(d.out).toContain(`delegated /sys/fs/cgroup/pids/lxt.user.${uid}`);
    try {
      expect(statSync(`/sys/fs/cgroup/pids/lxt.user.${uid}/tasks`).uid).toBe(uid);
      expect(lxt("checkconfig").out).toContain(`cgroups delegated to ${user}: enabled`);
      expect(lxt("create", "-n", "c", "-t", "busybox").code).toBe(0);
      writeFileSync(`${home}/.local/share/lxt/c/config`, readFileSync(`${home}/.local/share/lxt/c/config`, "utf8") + "lxc.cgroup.pids.max = 10\nlxc.cgroup.memory.limit_in_bytes = 64M\n");
      const s = lxt("start", "-n", "c");
      expect(s.err).not.toContain("no cgroup");
      expect(s.code).toBe(0);
      expect(readFileSync(`/sys/fs/cgroup/pids/lxt.user.${uid}/lxt.payload.c/pids.max`, "utf8").trim()).toBe("10");
      expect(readFileSync(`/sys/fs/cgroup/memory/lxt.user.${uid}/lxt.payload.c/memory.limit_in_bytes`, "utf8").trim()).toBe(String(64 * 1048576));
      const fork = lxt("attach", "-n", "c", "--", "sh", "-c", "'for i in $(seq 20); do sleep 1 & done; wait'");
      expect(fork.err).toContain("can't fork");
      expect(lxt("info", "-n", "c").out).toMatch(/^Memory use:\s+\d/m);
      expect(lxt("freeze", "-n", "c").code).toBe(0);
      expect(lxt("info", "-n", "c", "-s", "-H").out.trim()).toBe("FROZEN");
      expect(lxt("unfreeze", "-n", "c").code).toBe(0);
      expect(lxt("stop", "-n", "c", "-k").code).toBe(0);
      expect(existsSync(`/sys/fs/cgroup/pids/lxt.user.${uid}/lxt.payload.c`)).toBe(false);
      expect(lxt("destroy", "-n", "c").code).toBe(0);
      // not root: refused
      expect(lxt("delegate", user).err).toContain("run it as root");
    } finally {
      sh(`${LXT} delegate ${user} --remove`, false);
    }
    expect(existsSync(`/sys/fs/cgroup/pids/lxt.user.${uid}`)).toBe(false);
  });

  it("without XDG_RUNTIME_DIR (and no /run/user/UID) the run dirs go to ~/.cache/lxt/run", () => {
    const noXdg = (...args: string[]) => sh(`setpriv --reuid=${user} --regid=${user} --init-groups env -i HOME=${home} USER=${user} PATH=/usr/sbin:/usr/bin:/sbin:/bin ${LXT} ${args.join(" ")}`, false);
    const uid = Number(sh(`id -u ${user}`).out.trim());
    expect(existsSync(`/run/user/${uid}`)).toBe(false); // a user made here has no session dir (it would be used instead)
    expect(noXdg("create", "-n", "x", "-t", "busybox").code).toBe(0);
    expect(noXdg("start", "-n", "x").code).toBe(0);
    expect(existsSync(`${home}/.cache/lxt/run/x/state`)).toBe(true);
    expect(noXdg("attach", "-n", "x", "--", "id", "-u").out.trim()).toBe("0");
    expect(noXdg("stop", "-n", "x", "-k").code).toBe(0);
    expect(existsSync(`${home}/.cache/lxt/run/x`)).toBe(false);
    expect(noXdg("destroy", "-n", "x").code).toBe(0);
  });

  it("an ordinary user's snapshot clone, ephemeral clone, full copy and snapshots: files copied and owned through its user namespace, writable inside, removed again", async () => {
    const base = `${home}/.local/share/lxt`;
    expect(lxt("create", "-n", "b", "-t", "busybox").code).toBe(0);
    const sub = Number(/^lxc\.idmap = u 0 (\d+)/m.exec(readFileSync(`${base}/b/config`, "utf8"))![1]);
    // snapshot clone: an overlay written by the container's root
    expect(lxt("copy", "-n", "b", "-N", "s", "-s").code).toBe(0);
    expect(lxt("start", "-n", "s").code).toBe(0);
    expect(lxt("attach", "-n", "s", "--", "sh", "-c", "'touch /etc/mine && rm /bin/vi && echo ok'").out.trim()).toBe("ok");
    expect(statSync(`${base}/s/delta0/etc/mine`).uid).toBe(sub);
    expect(existsSync(`${base}/b/rootfs/bin/vi`)).toBe(true);
    expect(lxt("stop", "-n", "s", "-k").code).toBe(0);
    // full copy and a snapshot: the subordinate owners kept
    expect(lxt("copy", "-n", "b", "-N", "f").code).toBe(0);
    expect(statSync(`${base}/f/rootfs/etc/shadow`).uid).toBe(sub);
    expect(lxt("start", "-n", "f").code).toBe(0);
    expect(lxt("attach", "-n", "f", "--", "hostname").out.trim()).toBe("f");
    expect(lxt("stop", "-n", "f", "-k").code).toBe(0);
    expect(lxt("snapshot", "-n", "b").code).toBe(0);
    expect(statSync(`${base}/b/snaps/snap0/rootfs/etc/shadow`).uid).toBe(sub);
    expect(lxt("snapshot", "-n", "b", "-r", "snap0").code).toBe(0);
    // ephemeral: gone after it stops
    expect(lxt("copy", "-n", "b", "-N", "e", "-e").code).toBe(0);
    expect(lxt("attach", "-n", "e", "--", "touch", "/x").code).toBe(0);
    expect(lxt("stop", "-n", "e", "-k").code).toBe(0);
    for (let i = 0; i < 50 && existsSync(`${base}/e`); i++) await Bun.sleep(100);
    expect(existsSync(`${base}/e`)).toBe(false);
    for (const n of ["s", "f"]) expect(lxt("destroy", "-n", n).code).toBe(0);
    expect(lxt("destroy", "-n", "b", "-s").code).toBe(0);
    expect(existsSync(`${base}/b`)).toBe(false);
  });

  it("an OCI image for an ordinary user: layers in its own cache, owned by its containers' ids, whiteouts and opaque dirs honoured, the entrypoint run", () => {
    const imgDir = mkdtempSync("/tmp/lxt-it-uimg-");
    const img = buildImage(imgDir);
    sh(`chmod -R a+rX ${imgDir}`);
    try {
      const c = lxt("create", "-n", "o", "-t", "oci", "--", "--url", `oci:${img.layout}:latest`);
      expect(c.code).toBe(0);
      const layers = `${home}/.cache/lxt/oci/layers/sha256`;
      const sub = Number(/^lxc\.idmap = u 0 (\d+)/m.exec(readFileSync(`${home}/.local/share/lxt/o/config`, "utf8"))![1]);
      expect(statSync(`${layers}/${img.layerDigests[0]!.slice(7)}/bin/busybox`).uid).toBe(sub); // owner 0 in the layer
      const r = lxt("execute", "-n", "o");
      expect(r.out).toContain(`hello from the image in /work as 1000`);
      expect(r.out).toContain("new"); // the opaque dir shows layer 2's file only
      expect(r.out).not.toContain("old");
      expect(r.code).toBe(3);
      expect(lxt("destroy", "-n", "o").code).toBe(0);
    } finally {
      rmSync(imgDir, { recursive: true, force: true });
    }
  });

  it("an export made by root imported by an ordinary user: its own ids, unprivileged, /dev left to autodev, snapshots too", () => {
    const tmp = mkdtempSync("/tmp/lxt-it-uexp-");
    const rootEnv = { ...(process.env as Record<string, string>), LXT_RUNDIR: `${tmp}/run`, LXT_DEFAULT_CONFIG: `${tmp}/none.conf` };
    const asRoot = (...args: string[]) => Bun.spawnSync([LXT, args[0]!, "-P", `${tmp}/lxc`, ...args.slice(1)], { env: rootEnv, stderr: "pipe" });
    try {
      expect(asRoot("create", "-n", "g", "-t", "busybox").exitCode).toBe(0);
      writeFileSync(`${tmp}/lxc/g/rootfs/etc/motd`, "golden\n");
      sh(`mknod ${tmp}/lxc/g/rootfs/dev/null2 c 1 3`); // a node in /dev: left out for a user namespace
      expect(asRoot("snapshot", "-n", "g").exitCode).toBe(0);
      expect(asRoot("export", "-n", "g", `${tmp}/g.tar.gz`, "--snapshots").exitCode).toBe(0);
      sh(`chmod 755 ${tmp} && chmod 644 ${tmp}/g.tar.gz`);
      const i = lxt("import", `${tmp}/g.tar.gz`, "-n", "mine");
      expect(i.err).toBe("");
      const cfg = readFileSync(`${home}/.local/share/lxt/mine/config`, "utf8");
      const sub = Number(/^lxc\.idmap = u 0 (\d+)/m.exec(cfg)![1]);
      expect(statSync(`${home}/.local/share/lxt/mine/rootfs/etc/motd`).uid).toBe(sub);
      expect(existsSync(`${home}/.local/share/lxt/mine/rootfs/dev/null2`)).toBe(false);
      expect(lxt("start", "-n", "mine").code).toBe(0);
      expect(lxt("attach", "-n", "mine", "--", "sh", "-c", "'stat -c %u / /etc/motd; cat /etc/motd; touch /root/x && echo w'").out.trim().split("\n")).toEqual(["0", "0", "golden", "w"]);
      expect(lxt("stop", "-n", "mine", "-k").code).toBe(0);
      expect(lxt("snapshot", "-n", "mine", "-L").out).toMatch(/^snap0 /m);
      expect(lxt("destroy", "-n", "mine", "-s").code).toBe(0);
      expect(existsSync(`${home}/.local/share/lxt/mine`)).toBe(false);
    } finally {
      asRoot("destroy", "-n", "g", "-s");
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
