// The sshd template: an application container that runs the host's own sshd
// (LXC's lxc-sshd is the model). The host's /usr and its top-level binary and
// library dirs are bind-mounted read-only; the container has its own /etc
// (passwd, its own host keys, sshd_config), /root and /run. Its init is a
// small script: an address by DHCP on eth0 when the config gave none (the
// host's busybox udhcpc), then sshd in the foreground as PID 1.
//   lxt create -n s -t sshd -- [-S|--auth-key FILE]
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { DEFAULT_DEVICE_RULES, DEFAULT_POLICY } from "../security/seccomp.ts";
import { LxtError } from "../util/errors.ts";
import { run } from "../util/exec.ts";
import { DHCP_SCRIPT } from "./busybox.ts";
import type { Template } from "./index.ts";

/** Top-level dirs taken from the host: a symlink there (merged /usr) is copied as a symlink, a directory is bind-mounted read-only. */
const HOST_DIRS = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

const INIT = `#!/bin/sh
# lxt sshd template: the container's init. eth0 without an IPv4 address from
# the config gets one by DHCP (the host's busybox udhcpc, kept running to
# renew it); then sshd runs in the foreground as PID 1.
if [ -e /sys/class/net/eth0 ] && ! ip -4 -o addr show dev eth0 | grep -q inet; then
  if command -v busybox >/dev/null 2>&1; then
    busybox udhcpc -i eth0 -f -S -s /etc/udhcpc.script >/dev/null 2>&1 &
  else
    echo "sshd container: eth0 has no address and the host has no busybox for DHCP" >&2
  fi
fi
exec /usr/sbin/sshd -D -e
`;

const SSHD_CONFIG = `# lxt sshd template
Port 22
HostKey /etc/ssh/ssh_host_ed25519_key
HostKey /etc/ssh/ssh_host_ecdsa_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AuthorizedKeysFile .ssh/authorized_keys
PidFile /run/sshd.pid
PrintMotd no
Subsystem sftp /usr/lib/openssh/sftp-server
`;

function parseArgs(args: string[]): { authKey?: string } {
  const o: { authKey?: string } = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const val = (name: string) => {
      if (a.startsWith(`${name}=`)) return a.slice(name.length + 1);
      const v = args[++i];
      if (v === undefined) throw new LxtError(`sshd template: ${name} needs a value`);
      return v;
    };
    if (a === "--auth-key" || a === "-S" || a.startsWith("--auth-key=")) o.authKey = val("--auth-key");
    else throw new LxtError(`sshd template: unknown argument \`${a}\``, "the sshd template takes -S/--auth-key FILE (a public key for root)");
  }
  return o;
}

export const sshd: Template = {
  name: "sshd",
  create({ name, rootfs, args, path }) {
    const o = parseArgs(args);
    if (!existsSync("/usr/sbin/sshd")) throw new LxtError("sshd template: the host has no /usr/sbin/sshd", "install it: apt-get install openssh-server (scripts/setup does, without starting it on the host)");
    if (!existsSync("/usr/bin/ssh-keygen")) throw new LxtError("sshd template: ssh-keygen is missing on the host", "apt-get install openssh-client");
    let key: string | undefined;
    if (o.authKey) {
      try {
        key = readFileSync(o.authKey, "utf8");
      } catch (e) {
        throw new LxtError(`sshd template: --auth-key ${o.authKey}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`, "give the path of a public key (e.g. ~/.ssh/id_ed25519.pub)");
      }
      if (!/^(ssh-|ecdsa-|sk-)\S+ \S+/m.test(key)) throw new LxtError(`sshd template: --auth-key ${o.authKey} is not an OpenSSH public key`, "give the .pub file");
    }

    const keys: Array<[string, string]> = [];
    for (const d of HOST_DIRS) {
      const host = `/${d}`;
      if (!existsSync(host)) continue;
      if (lstatSync(host).isSymbolicLink()) symlinkSync(readlinkSync(host), `${rootfs}/${d}`);
      else {
        mkdirSync(`${rootfs}/${d}`);
        keys.push(["lxc.mount.entry", `${host} ${d} none ro,bind 0 0`]);
      }
    }
    for (const d of ["usr", "dev", "proc", "sys", "tmp", "root/.ssh", "etc/ssh", "run/sshd", "var/log", "var/empty"]) mkdirSync(`${rootfs}/${d}`, { recursive: true });
    keys.unshift(["lxc.mount.entry", "/usr usr none ro,bind 0 0"]);
    chmodSync(`${rootfs}/tmp`, 0o1777);
    chmodSync(`${rootfs}/root`, 0o700);
    chmodSync(`${rootfs}/root/.ssh`, 0o700);
    symlinkSync("/run", `${rootfs}/var/run`);
    if (key) writeFileSync(`${rootfs}/root/.ssh/authorized_keys`, key, { mode: 0o600 });

    writeFileSync(`${rootfs}/etc/passwd`, "root:x:0:0:root:/root:/bin/sh\nsshd:x:100:65534::/run/sshd:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
    writeFileSync(`${rootfs}/etc/group`, "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n");
    writeFileSync(`${rootfs}/etc/shadow`, "root:*:19000:0:99999:7:::\nsshd:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n", { mode: 0o600 });
    writeFileSync(`${rootfs}/etc/hostname`, `${name}\n`);
    writeFileSync(`${rootfs}/etc/hosts`, `127.0.0.1 localhost\n127.0.1.1 ${name}\n::1 localhost ip6-localhost ip6-loopback\n`);
    writeFileSync(`${rootfs}/etc/resolv.conf`, "");
    if (existsSync("/etc/nsswitch.conf")) copyFileSync("/etc/nsswitch.conf", `${rootfs}/etc/nsswitch.conf`);
    writeFileSync(`${rootfs}/etc/ssh/sshd_config`, SSHD_CONFIG);
    writeFileSync(`${rootfs}/etc/udhcpc.script`, DHCP_SCRIPT, { mode: 0o755 });
    writeFileSync(`${rootfs}/init`, INIT, { mode: 0o755 });
    // the container's own host keys, never the host's
    for (const t of ["ed25519", "ecdsa"]) run(["/usr/bin/ssh-keygen", "-q", "-t", t, "-N", "", "-C", `root@${name}`, "-f", `${rootfs}/etc/ssh/ssh_host_${t}_key`]);
    writeFileSync(`${path}/seccomp.policy`, DEFAULT_POLICY);

    if (!key) process.stderr.write(`sshd template: no --auth-key given: add a public key to ${rootfs}/root/.ssh/authorized_keys to log in\n`);
    return [
      ["lxc.uts.name", name],
      ["lxc.init.cmd", "/init"],
      ["lxc.execute.cmd", "/init"],
      ["lxc.signal.halt", "SIGTERM"],
      ["lxc.autodev", "1"],
      ["lxc.tty.max", "0"],
      ["lxc.pty.max", "1024"],
      ["lxc.cap.drop", "sys_module mac_admin mac_override sys_time sys_rawio"],
      ["lxc.mount.auto", "proc:mixed sys:mixed cgroup:mixed"],
      ...keys,
      ["lxc.seccomp.profile", `${path}/seccomp.policy`],
      ...DEFAULT_DEVICE_RULES,
    ];
  },
};
