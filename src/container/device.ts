// lxt device (like lxc-device): hot-plug a host device node or a network
// interface into a running container, and take it out again.
//   device node: the node is made inside (in the container's mount namespace,
//                as host root) and the device cgroup lets the container use it
//   interface:   moved into the container's network namespace (renamed), and
//                back to the host under its old name on del
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { setupNetwork } from "../net/nic.ts";
import { inMountNamespace } from "../runtime/attach.ts";
import type { NicSpec } from "../spec/types.ts";
import { readRuntimeState } from "../runtime/statefile.ts";
import { run } from "../util/exec.ts";
import { errorMessage, LxtError, NotSupportedError, StateError } from "../util/errors.ts";
import { requireDefined, runDir, type Context } from "./context.ts";
import { openCgroup } from "./state.ts";

interface DeviceRecord {
  /** interface name inside -> name on the host */
  nics: Record<string, string>;
}

function running(ctx: Context, name: string): { pid: number; rundir: string } {
  requireDefined(ctx, name);
  const rundir = runDir(ctx, name);
  const rt = readRuntimeState(rundir);
  if (!rt?.monitorAlive || !rt.initPid || rt.state === "STOPPED") throw new StateError(`${name} is not running`, `start it first (lxt start -n ${name})`);
  return { pid: rt.initPid, rundir };
}

function record(rundir: string): DeviceRecord {
  try {
    return JSON.parse(readFileSync(`${rundir}/devices.json`, "utf8")) as DeviceRecord;
  } catch {
    return { nics: {} };
  }
}

/** Linux's dev_t encoding. */
function majorMinor(rdev: number): [number, number] {
  const r = BigInt(rdev);
  return [Number(((r >> 8n) & 0xfffn) | ((r >> 32n) & ~0xfffn)), Number((r & 0xffn) | ((r >> 12n) & ~0xffn))];
}

function nodeOf(dev: string): { kind: "c" | "b"; major: number; minor: number; mode: number } {
  let st;
  try {
    st = statSync(dev);
  } catch (e) {
    throw new LxtError(`device \`${dev}\`: ${errorMessage(e)}`, "give a device node of the host, e.g. /dev/fuse, or an interface name");
  }
  if (!st.isCharacterDevice() && !st.isBlockDevice()) throw new LxtError(`\`${dev}\` is not a device node`, "give a character or block device of the host, e.g. /dev/fuse");
  const [major, minor] = majorMinor(st.rdev);
  return { kind: st.isCharacterDevice() ? "c" : "b", major, minor, mode: st.mode };
}

function deviceRule(ctx: Context, name: string, rundir: string, verb: "allow" | "deny", rule: string): void {
  const cg = openCgroup(rundir);
  if (!cg) throw new LxtError(`${name}: its cgroup record is missing`);
  try {
    cg.set(`devices.${verb}`, rule);
  } catch (e) {
    if (e instanceof NotSupportedError) throw e;
    throw new LxtError(`${name}: cannot ${verb} \`${rule}\` in the device cgroup: ${errorMessage(e)}`, "on cgroup v2 device rules need the eBPF device controller, which lxt does not have yet");
  }
}

function isInterface(dev: string): boolean {
  return !dev.startsWith("/") && /^[A-Za-z0-9_.:-]{1,15}$/.test(dev);
}

/** The first ethN the container does not have (from /proc/PID/net/dev, readable from the host). */
function nextEth(pid: number): string {
  const have = new Set(readFileSync(`/proc/${pid}/net/dev`, "utf8").split("\n").slice(2).map((l) => l.split(":")[0]!.trim()));
  let i = 0;
  while (have.has(`eth${i}`)) i++;
  return `eth${i}`;
}

export async function deviceAdd(ctx: Context, name: string, dev: string, target?: string): Promise<void> {
  const { pid, rundir } = running(ctx, name);
  if (dev.startsWith("veth:")) {
    // a new veth on a bridge, as lxc.net.N would make it at start
    const inside = target ?? nextEth(pid);
    if (!isInterface(inside)) throw new LxtError(`invalid interface name \`${inside}\``, "at most 15 letters, digits or _.:-");
    const { loadSpec } = await import("./state.ts");
    const spec = loadSpec(ctx, name);
    const nic: NicSpec = { index: spec.nics.length, type: "veth", flagsUp: true, link: dev.slice(5), name: inside, hwaddr: "00:16:3e:xx:xx:xx", ipv4: [], ipv6: [], l2proxy: false, veth: { mode: "bridge", ipv4Routes: [], ipv6Routes: [], vlanTagged: [] } };
    const plan = setupNetwork({ ...spec, nics: [nic] }, pid, rundir, { append: true });
    const rec = record(rundir);
    rec.nics[inside] = `veth:${plan[0]!.host}`;
    writeFileSync(`${rundir}/devices.json`, JSON.stringify(rec));
    return;
  }
  if (isInterface(dev)) {
    if (!existsSync(`/sys/class/net/${dev}`)) throw new LxtError(`no network interface \`${dev}\` on the host`, "see `ip link`");
    const inside = target ?? dev;
    if (!isInterface(inside)) throw new LxtError(`invalid interface name \`${inside}\``, "at most 15 letters, digits or _.:-");
    const r = run(["ip", "link", "set", "dev", dev, "netns", String(pid), "name", inside], { allowFail: true });
    if (r.status !== 0) throw new LxtError(`move \`${dev}\` into ${name} as \`${inside}\`: ${r.stderr.trim()}`);
    const rec = record(rundir);
    rec.nics[inside] = dev;
    writeFileSync(`${rundir}/devices.json`, JSON.stringify(rec));
    return;
  }
  const n = nodeOf(dev);
  const path = target ?? dev;
  if (!path.startsWith("/")) throw new LxtError(`the path inside must be absolute: \`${path}\``);
  const rule = `${n.kind} ${n.major}:${n.minor} rwm`;
  deviceRule(ctx, name, rundir, "allow", rule);
  const parent = path.slice(1, path.lastIndexOf("/"));
  try {
    await inMountNamespace(pid, [...(parent ? [["mkdirin", "/", parent] as [string, ...string[]]] : []), ["mknod", path, n.mode.toString(8), String(n.major), String(n.minor)]]);
  } catch (e) {
    deviceRule(ctx, name, rundir, "deny", rule);
    throw new LxtError(`make \`${path}\` in ${name}: ${errorMessage(e)}`);
  }
}

export async function deviceDel(ctx: Context, name: string, dev: string): Promise<void> {
  const { pid, rundir } = running(ctx, name);
  if (isInterface(dev)) {
    const rec = record(rundir);
    const host = rec.nics[dev] ?? dev;
    if (host.startsWith("veth:")) {
      // one lxt made: deleting its host side takes the pair away
      const r = run(["ip", "link", "del", host.slice(5)], { allowFail: true });
      if (r.status !== 0) throw new LxtError(`delete \`${dev}\` (host side ${host.slice(5)}): ${r.stderr.trim()}`);
      delete rec.nics[dev];
      writeFileSync(`${rundir}/devices.json`, JSON.stringify(rec));
      return;
    }
    const r = run(["nsenter", `--net=/proc/${pid}/ns/net`, "ip", "link", "set", "dev", dev, "netns", String(process.pid), "name", host], { allowFail: true });
    if (r.status !== 0) throw new LxtError(`move \`${dev}\` out of ${name}: ${r.stderr.trim()}`, `see \`lxt attach -n ${name} -- ip link\``);
    delete rec.nics[dev];
    writeFileSync(`${rundir}/devices.json`, JSON.stringify(rec));
    return;
  }
  const n = nodeOf(dev);
  try {
    await inMountNamespace(pid, [["unlink", dev]]);
  } catch (e) {
    throw new LxtError(`remove \`${dev}\` from ${name}: ${errorMessage(e)}`);
  }
  deviceRule(ctx, name, rundir, "deny", `${n.kind} ${n.major}:${n.minor} rwm`);
}
