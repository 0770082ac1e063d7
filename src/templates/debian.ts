// The debian template: debootstrap once per release/arch/variant/packages
// into a cache under /var/cache/lxt/debian (LXT_CACHE moves it; built in a
// temp dir and renamed into place under a lock, so the cache is never half
// written), then copied into the container and set up for a container:
// hostname, /etc/hosts, DHCP on eth0 through systemd-networkd, getty on the
// console (systemd does that in a container), no udev, root locked (log in
// with `lxt attach`), an empty machine-id.
//   lxt create -n web -t debian -- [-r RELEASE] [-a ARCH] [--mirror URL] [--packages a,b] [--variant V]
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { DEFAULT_DEVICE_RULES, DEFAULT_POLICY } from "../security/seccomp.ts";
import { LxtError } from "../util/errors.ts";
import { run } from "../util/exec.ts";
import type { Template } from "./index.ts";

interface Args {
  release: string;
  arch: string;
  mirror: string;
  packages: string[];
  variant: string;
}

/** Packages every container needs on top of the variant: an init and ip. */
const BASE_PACKAGES = ["systemd-sysv", "iproute2", "ca-certificates"];

function hostArch(): string {
  return run(["dpkg", "--print-architecture"], { allowFail: true }).stdout.trim() || "amd64";
}

/** The mirror this host's apt uses, else deb.debian.org. */
function defaultMirror(): string {
  for (const f of ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"]) {
    try {
      const t = readFileSync(f, "utf8");
      const m = /^URIs:\s*(\S+debian)\/?\s*$/m.exec(t) ?? /^deb\s+(?:\[[^\]]*\]\s+)?(\S+debian)\/?\s/m.exec(t);
      if (m) return m[1]!;
    } catch {
      // not there
    }
  }
  return "http://deb.debian.org/debian";
}

export function parseArgs(argv: string[]): Args {
  const a: Args = { release: "bookworm", arch: hostArch(), mirror: defaultMirror(), packages: [], variant: "minbase" };
  for (let i = 0; i < argv.length; i++) {
    const [k, inline] = argv[i]!.split(/=(.*)/s);
    const val = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === "") throw new LxtError(`debian template: ${k} needs a value`);
      return v;
    };
    if (k === "-r" || k === "--release") a.release = val();
    else if (k === "-a" || k === "--arch") a.arch = val();
    else if (k === "--mirror") a.mirror = val();
    else if (k === "--packages") a.packages = val().split(",").filter(Boolean);
    else if (k === "--variant") a.variant = val();
    else throw new LxtError(`debian template: unknown option \`${argv[i]}\``, "options: -r RELEASE, -a ARCH, --mirror URL, --packages a,b, --variant minbase|buildd|-");
  }
  for (const [what, v] of [["release", a.release], ["arch", a.arch], ["variant", a.variant]] as const)
    if (!/^[a-z0-9.+-]+$/.test(v)) throw new LxtError(`debian template: invalid ${what} \`${v}\``);
  return a;
}

function step<T>(name: string, fn: () => T): T {
  process.stderr.write(`debian: ${name}...\n`);
  try {
    return fn();
  } catch (e) {
    throw new LxtError(`debian template: ${name} failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function cacheDir(a: Args): string {
  const base = `${process.env.LXT_CACHE ?? "/var/cache/lxt"}/debian`;
  const extra = a.packages.length ? `-${Bun.hash.wyhash([...a.packages].sort().join(",")).toString(16).slice(0, 8)}` : "";
  return `${base}/${a.release}-${a.arch}-${a.variant}${extra}`;
}

/** mkdir is atomic: the lock is a directory, taken over when its holder is gone. */
function lock(path: string): () => void {
  mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  for (let i = 0; ; i++) {
    try {
      mkdirSync(path);
      writeFileSync(`${path}/pid`, String(process.pid));
      return () => rmSync(path, { recursive: true, force: true });
    } catch {
      const holder = Number(readFileSync(`${path}/pid`, "utf8").trim() || 0);
      if (holder && !existsSync(`/proc/${holder}`)) {
        rmSync(path, { recursive: true, force: true });
        continue;
      }
      if (i === 0) process.stderr.write(`debian: waiting for another create building the same cache (pid ${holder})...\n`);
      if (i > 1200) throw new LxtError(`debian template: the cache lock ${path} is held by pid ${holder} for 10 minutes`);
      Bun.sleepSync(500);
    }
  }
}

/** Seconds the mirror has to answer the preflight request before the create gives up. */
const MIRROR_TIMEOUT = 8;

/**
 * Before the cache is touched: debootstrap knows the release, and the mirror
 * answers for it (one request for dists/RELEASE/Release, with a timeout), so
 * a typo or a dead mirror fails in seconds with a clear message instead of
 * deep inside debootstrap.
 */
function preflight(a: Args): void {
  if (run(["sh", "-c", "command -v debootstrap"], { allowFail: true }).status !== 0) throw new LxtError("debootstrap is not installed", "run scripts/setup (apt-get install debootstrap)");
  const scripts = "/usr/share/debootstrap/scripts";
  if (!existsSync(`${scripts}/${a.release}`)) {
    const debian = ["oldstable", "stable", "testing", "unstable", "bullseye", "bookworm", "trixie", "sid"].filter((r) => existsSync(`${scripts}/${r}`));
    throw new LxtError(`debian template: unknown release \`${a.release}\` (debootstrap has no script for it)`, `use one of ${debian.join(", ")} (or see ${scripts})`);
  }
  if (!/^https?:\/\//.test(a.mirror)) return;
  const url = `${a.mirror.replace(/\/$/, "")}/dists/${a.release}/Release`;
  const r = run(["wget", "-q", "-T", String(MIRROR_TIMEOUT), "-t", "1", "-O", "/dev/null", url], { allowFail: true });
  if (r.status === 0) return;
  const why = r.status === 8 ? `it has no ${a.release} (${url} was refused or not found)` : r.status === 4 ? `it does not answer (no connection or no reply within ${MIRROR_TIMEOUT} s)` : `fetching ${url} failed (wget status ${r.status})`;
  throw new LxtError(`debian template: mirror ${a.mirror}: ${why}`, "check --mirror (default: the host's apt mirror) and the network");
}

function ensureCache(a: Args): string {
  const dir = cacheDir(a);
  if (existsSync(`${dir}/rootfs/etc/os-release`)) return dir;
  preflight(a);
  const unlock = lock(`${dir}.lock`);
  try {
    if (existsSync(`${dir}/rootfs/etc/os-release`)) return dir;
    const tmp = `${dir}.partial-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    try {
      const include = [...BASE_PACKAGES, ...a.packages].join(",");
      step(`debootstrap ${a.release} (${a.arch}, ${a.variant}) from ${a.mirror} into the cache`, () => {
        const r = run(["debootstrap", `--variant=${a.variant}`, `--arch=${a.arch}`, `--include=${include}`, a.release, `${tmp}/rootfs`, a.mirror], { inherit: true, allowFail: true });
        if (r.status !== 0) throw new Error(`debootstrap exited with status ${r.status} (its output is above)`);
      });
      run(["chroot", `${tmp}/rootfs`, "apt-get", "clean"], { allowFail: true });
      rmSync(dir, { recursive: true, force: true });
      renameSync(tmp, dir);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    return dir;
  } finally {
    unlock();
  }
}

function configure(rootfs: string, name: string): void {
  writeFileSync(`${rootfs}/etc/hostname`, `${name}\n`);
  writeFileSync(`${rootfs}/etc/hosts`, `127.0.0.1 localhost\n127.0.1.1 ${name}\n\n::1 localhost ip6-localhost ip6-loopback\nff02::1 ip6-allnodes\nff02::2 ip6-allrouters\n`);
  mkdirSync(`${rootfs}/etc/systemd/network`, { recursive: true });
  writeFileSync(`${rootfs}/etc/systemd/network/eth0.network`, "[Match]\nName=eth0\n\n[Network]\nDHCP=yes\n");
  const wants = `${rootfs}/etc/systemd/system/multi-user.target.wants`;
  mkdirSync(wants, { recursive: true });
  for (const unit of ["systemd-networkd.service"]) {
    rmSync(`${wants}/${unit}`, { force: true });
    run(["ln", "-s", `/lib/systemd/system/${unit}`, `${wants}/${unit}`]);
  }
  // no udev and no hardware in a container
  for (const unit of ["systemd-udevd.service", "systemd-udevd-control.socket", "systemd-udevd-kernel.socket", "systemd-journald-audit.socket", "sys-kernel-config.mount", "sys-kernel-debug.mount"]) {
    rmSync(`${rootfs}/etc/systemd/system/${unit}`, { force: true });
    run(["ln", "-s", "/dev/null", `${rootfs}/etc/systemd/system/${unit}`]);
  }
  writeFileSync(`${rootfs}/etc/machine-id`, "");
  // root locked: lxt attach is the way in
  const shadow = `${rootfs}/etc/shadow`;
  writeFileSync(shadow, readFileSync(shadow, "utf8").replace(/^root:[^:]*:/m, "root:*:"));
}

export const debian: Template = {
  name: "debian",
  create({ name, path, rootfs, args }) {
    const a = parseArgs(args);
    if ((process.getuid?.() ?? 0) !== 0)
      throw new LxtError("debian template: debootstrap needs root", "as an ordinary user, create from an image (-t oci -- --url ..., or -t local with an image root imported), or have root create it");
    const cache = ensureCache(a);
    step("copying the cached rootfs", () => {
      if (readdirSync(rootfs).length && !existsSync(`${rootfs}/lost+found`)) throw new Error(`${rootfs} is not empty`);
      const r = run(["cp", "-a", `${cache}/rootfs/.`, `${rootfs}/`], { allowFail: true });
      if (r.status !== 0) throw new Error(r.stderr.trim());
    });
    step("configuring it for a container", () => configure(rootfs, name));
    writeFileSync(`${path}/seccomp.policy`, DEFAULT_POLICY, { mode: 0o644 });
    return [
      ["lxc.uts.name", name],
      ["lxc.arch", a.arch],
      ["lxc.init.cmd", "/sbin/init"],
      // systemd halts on SIGRTMIN+3 and reboots on SIGINT
      ["lxc.signal.halt", "SIGRTMIN+3"],
      ["lxc.signal.reboot", "SIGINT"],
      ["lxc.autodev", "1"],
      ["lxc.tty.max", "4"],
      ["lxc.pty.max", "1024"],
      ["lxc.cap.drop", "sys_module mac_admin mac_override sys_time sys_rawio"],
      ["lxc.mount.auto", "proc:mixed sys:mixed cgroup:mixed"],
      ["lxc.seccomp.profile", `${path}/seccomp.policy`],
      ...DEFAULT_DEVICE_RULES,
    ];
  },
};
