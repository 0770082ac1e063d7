// The busybox template: a complete small system from the host's static
// busybox, made offline in well under a second. Differs from LXC's
// lxc-busybox on purpose in one way: its startup script runs udhcpc only on
// an eth0 that exists and has no address yet, and its DHCP script never
// removes an address it did not lease, so a static lxc.net.0.ipv4.address
// survives (LXC's template wipes it in its deconfig step).
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { run } from "../util/exec.ts";
import { LxtError } from "../util/errors.ts";
import type { Template } from "./index.ts";
import { DEFAULT_DEVICE_RULES, DEFAULT_POLICY } from "../security/seccomp.ts";

const DIRS = [
  "bin", "sbin", "usr/bin", "usr/sbin", "usr/share/udhcpc", "etc/init.d", "dev", "proc", "sys", "tmp",
  "root", "home", "mnt", "run", "var/log", "var/run", "lib", "lib64", "usr/lib",
];

const INITTAB = `# busybox init (lxt busybox template)
::sysinit:/etc/init.d/rcS
tty1::respawn:/sbin/getty -L tty1 115200 vt100
console::respawn:-/bin/sh
::ctrlaltdel:/bin/reboot
::shutdown:/bin/umount -a -r
`;

const RCS = `#!/bin/sh
# lxt busybox template startup script
mkdir -p /run /var/run /tmp
ip link set lo up 2>/dev/null
# DHCP only where nothing configured eth0 already (lxc.net.0.ipv4.address).
if [ -e /sys/class/net/eth0 ] && ! ip -4 addr show dev eth0 2>/dev/null | grep -q inet; then
  ip link set eth0 up 2>/dev/null
  udhcpc -b -S -i eth0 -s /usr/share/udhcpc/default.script >/dev/null 2>&1
fi
`;

export const DHCP_SCRIPT = `#!/bin/sh
# udhcpc event script (lxt busybox template). Removes only the address it
# leased itself, never one configured by the container's config.
state=/run/udhcpc.$interface
case "$1" in
  deconfig)
    if [ -f "$state" ]; then ip addr del "$(cat "$state")" dev "$interface" 2>/dev/null; rm -f "$state"; fi
    ip link set "$interface" up
    ;;
  bound|renew)
    cidr="$ip/\${mask:-24}"
    if [ -f "$state" ] && [ "$(cat "$state")" != "$cidr" ]; then ip addr del "$(cat "$state")" dev "$interface" 2>/dev/null; fi
    ip addr replace "$cidr" \${broadcast:+broadcast $broadcast} dev "$interface"
    echo "$cidr" > "$state"
    for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
    if [ -n "$dns" ]; then
      : > /etc/resolv.conf
      [ -n "$domain" ] && echo "search $domain" >> /etc/resolv.conf
      for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    fi
    ;;
esac
exit 0
`;

/** True when the ELF file asks for a dynamic loader (a PT_INTERP program header). */
function hasInterpreter(path: string): boolean {
  const b = readFileSync(path);
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2) return false; // not ELF64: let it fail later
  const phoff = Number(b.readBigUInt64LE(0x20));
  const phentsize = b.readUInt16LE(0x36);
  const phnum = b.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) if (b.readUInt32LE(phoff + i * phentsize) === 3) return true;
  return false;
}

function findBusybox(explicit?: string): string {
  const candidates = explicit ? [explicit] : ["/bin/busybox", "/usr/bin/busybox"];
  for (const c of candidates) {
    if (!existsSync(c)) continue;
    if (hasInterpreter(c))
      throw new LxtError(
        `busybox template: \`${c}\` is dynamically linked`,
        "install a static busybox (apt-get install busybox-static) or pass --busybox-path",
      );
    return c;
  }
  throw new LxtError(
    "busybox template: no busybox binary found on the host",
    "install it with `apt-get install busybox-static` (or run scripts/setup), or pass --busybox-path PATH",
  );
}

export const busybox: Template = {
  name: "busybox",
  create({ rootfs, name, args, path }) {
    let bbPath: string | undefined;
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a === "--busybox-path" || a === "-b") bbPath = args[++i];
      else if (a.startsWith("--busybox-path=")) bbPath = a.slice(15);
      else throw new LxtError(`busybox template: unknown argument \`${a}\``, "the busybox template takes --busybox-path PATH");
    }
    const bb = findBusybox(bbPath);
    for (const d of DIRS) mkdirSync(`${rootfs}/${d}`, { recursive: true });
    chmodSync(`${rootfs}/tmp`, 0o1777);
    chmodSync(`${rootfs}/root`, 0o700);
    copyFileSync(bb, `${rootfs}/bin/busybox`);
    chmodSync(`${rootfs}/bin/busybox`, 0o755);
    const applets = run([bb, "--list-full"]).stdout.split("\n").filter(Boolean);
    for (const a of applets) {
      const p = `${rootfs}/${a}`;
      if (a === "bin/busybox" || existsSync(p)) continue;
      symlinkSync("/bin/busybox", p);
    }
    writeFileSync(`${rootfs}/etc/passwd`, "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
    writeFileSync(`${rootfs}/etc/shadow`, "root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n", { mode: 0o600 });
    writeFileSync(`${rootfs}/etc/group`, "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n");
    writeFileSync(`${rootfs}/etc/hostname`, `${name}\n`);
    writeFileSync(`${rootfs}/etc/hosts`, `127.0.0.1 localhost\n127.0.1.1 ${name}\n::1 localhost ip6-localhost ip6-loopback\n`);
    writeFileSync(`${rootfs}/etc/resolv.conf`, "");
    writeFileSync(`${rootfs}/etc/profile`, "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n");
    writeFileSync(`${rootfs}/etc/inittab`, INITTAB);
    writeFileSync(`${rootfs}/etc/init.d/rcS`, RCS, { mode: 0o755 });
    writeFileSync(`${rootfs}/usr/share/udhcpc/default.script`, DHCP_SCRIPT, { mode: 0o755 });
    return [
      ["lxc.signal.halt", "SIGUSR1"],
      ["lxc.signal.reboot", "SIGTERM"],
      ["lxc.uts.name", name],
      ["lxc.autodev", "1"],
      ["lxc.tty.max", "1"],
      ["lxc.pty.max", "1024"],
      ["lxc.cap.drop", "sys_module mac_admin mac_override sys_time sys_rawio"],
      ["lxc.mount.auto", "cgroup:mixed proc:mixed sys:mixed"],
      ["lxc.mount.entry", "shm dev/shm tmpfs defaults,create=dir 0 0"],
      ["lxc.mount.entry", "mqueue dev/mqueue mqueue defaults,optional,create=dir 0 0"],
      // LXC's customary seccomp policy (its common.seccomp), kept with the container
      ["lxc.seccomp.profile", writeSeccompPolicy(path)],
      ...DEFAULT_DEVICE_RULES,
    ];
  },
};

function writeSeccompPolicy(dir: string): string {
  const file = `${dir}/seccomp.policy`;
  writeFileSync(file, DEFAULT_POLICY, { mode: 0o644 });
  return file;
}

