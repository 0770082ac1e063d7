// lxc.seccomp.profile: LXC's policy format, parsed and compiled by lxt itself
// into a classic BPF program (struct sock_filter[]) that the shim loads last
// before exec (op `seccomp FILE`).
//
// Format (lxc.container.conf(5)):
//   1                       version 1: "allowlist" (or "whitelist"), then syscall numbers
//   2                       version 2: allowlist|whitelist|denylist|blacklist [DEFAULT-ACTION]
//   [x86_64] [i386] [all]   sections: which architectures the rules below apply to
//   NAME [ACTION] [ARG]...  ACTION: allow kill trap errno N trace N log (notify needs a proxy)
//   ARG: [INDEX,VALUE,OP] or [INDEX,VALUE,SCMP_CMP_MASKED_EQ,MASKED_VALUE]
//   reject_force_umount     umount2(..., MNT_FORCE) fails with EACCES
// Denylist: unlisted syscalls are allowed, listed ones get the rule's action
// (the header's action, else kill). Allowlist: listed ones are allowed, the
// rest get the header's action (else kill).
//
// The program checks the architecture first: x86_64 rules for x86_64, i386
// rules (the [i386] section and [all] by name) for 32-bit calls, so a denylist
// cannot be bypassed through int 0x80; x32 calls (nr | 0x40000000) are refused
// with ENOSYS unless an [x32] section allows them.
import { readFileSync } from "node:fs";
import { LxtError } from "../util/errors.ts";
import { I386, X86_64 } from "./syscalls.ts";

const RET = { KILL_PROCESS: 0x80000000, TRAP: 0x00030000, ERRNO: 0x00050000, TRACE: 0x7ff00000, LOG: 0x7ffc0000, ALLOW: 0x7fff0000 };
const AUDIT_ARCH_X86_64 = 0xc000003e;
const AUDIT_ARCH_I386 = 0x40000003;
const X32_BIT = 0x40000000;
const ENOSYS = 38;
const EACCES = 13;

export type Arch = "x86_64" | "i386" | "x32";
export interface ArgCmp {
  index: number;
  op: "NE" | "LT" | "LE" | "EQ" | "GE" | "GT" | "MASKED_EQ";
  value: bigint;
  /** MASKED_EQ: (arg & mask) == value2 */
  value2?: bigint;
}
export interface SeccompRule {
  arch: Arch;
  nr: number;
  name: string;
  action: number;
  args: ArgCmp[];
}
export interface SeccompPolicy {
  defaultAction: number;
  rules: SeccompRule[];
  /** x32 calls are allowed (an [x32] section exists) */
  x32: boolean;
}

function action(words: string[], where: string): number | undefined {
  if (!words.length) return undefined;
  const [w, n] = words;
  const num = () => {
    if (n === undefined || !/^\d+$/.test(n)) throw new LxtError(`${where}: \`${w}\` needs a number`, `e.g. \`${w} 1\``);
    return Number(n);
  };
  switch (w) {
    case "allow": return RET.ALLOW;
    case "kill": return RET.KILL_PROCESS;
    case "trap": return RET.TRAP;
    case "log": return RET.LOG;
    case "errno": return RET.ERRNO | (num() & 0xffff);
    case "trace": return RET.TRACE | (num() & 0xffff);
    case "notify":
      throw new LxtError(`${where}: the notify action needs a seccomp notification proxy (lxc.seccomp.notify.proxy), which lxt does not run yet`, "use errno N instead");
    default:
      throw new LxtError(`${where}: unknown action \`${w}\``, "use allow, kill, trap, errno N, trace N or log");
  }
}

const OPS: Record<string, ArgCmp["op"]> = {
  SCMP_CMP_NE: "NE", SCMP_CMP_LT: "LT", SCMP_CMP_LE: "LE", SCMP_CMP_EQ: "EQ", SCMP_CMP_GE: "GE", SCMP_CMP_GT: "GT", SCMP_CMP_MASKED_EQ: "MASKED_EQ",
};

function parseArg(text: string, where: string): ArgCmp {
  const f = text.replace(/^\[|\]$/g, "").split(",").map((x) => x.trim());
  const op = OPS[f[2] ?? ""];
  if (f.length < 3 || !/^[0-5]$/.test(f[0]!) || op === undefined || !/^(0x[0-9a-f]+|\d+)$/i.test(f[1]!))
    throw new LxtError(`${where}: cannot parse the argument comparison \`${text}\``, "write [INDEX,VALUE,SCMP_CMP_EQ] (INDEX 0-5; ops NE LT LE EQ GE GT MASKED_EQ; MASKED_EQ takes a fourth value)");
  const a: ArgCmp = { index: Number(f[0]), op, value: BigInt(f[1]!) };
  if (op === "MASKED_EQ") {
    if (!f[3] || !/^(0x[0-9a-f]+|\d+)$/i.test(f[3])) throw new LxtError(`${where}: SCMP_CMP_MASKED_EQ needs the masked value as a fourth field`);
    a.value2 = BigInt(f[3]);
  }
  return a;
}

function archOf(section: string, where: string): Arch[] | null {
  const s = section.toLowerCase();
  if (s === "all") return ["x86_64", "i386"];
  if (s === "x86_64" || s === "amd64") return ["x86_64"];
  if (s === "i386" || s === "x86" || s === "i686") return ["i386"];
  if (s === "x32") return ["x32"];
  // sections for other architectures do not apply on this host
  if (/^(arm|armel|armhf|arm64|aarch64|mips.*|ppc.*|powerpc.*|s390x?|riscv64|loongarch64)$/.test(s)) return null;
  throw new LxtError(`${where}: unknown architecture section [${section}]`, "use [all], [x86_64], [i386] or [x32] (other architectures are ignored here)");
}

/** Parses a policy file's text. `file` names it in errors (file:line). */
export function parseSeccomp(text: string, file: string): SeccompPolicy {
  const lines = text.split("\n");
  const at = (i: number) => `${file}:${i + 1}`;
  const version = lines[0]?.trim();
  if (version !== "1" && version !== "2") throw new LxtError(`${at(0)}: the first line must be the policy version, 1 or 2`, "see lxc.container.conf(5), seccomp");
  const header = (lines[1] ?? "").trim().split(/\s+/);
  const kind = header[0]?.toLowerCase();
  const deny = kind === "denylist" || kind === "blacklist";
  if (!deny && kind !== "allowlist" && kind !== "whitelist") throw new LxtError(`${at(1)}: the second line must be allowlist or denylist (whitelist/blacklist)`, "e.g. `denylist` or `allowlist errno 1`");
  if (version === "1" && deny) throw new LxtError(`${at(1)}: a version 1 policy is an allowlist`);
  const headerAction = action(header.slice(1), at(1));
  const ruleAction = deny ? (headerAction ?? RET.KILL_PROCESS) : RET.ALLOW;
  const policy: SeccompPolicy = { defaultAction: deny ? RET.ALLOW : (headerAction ?? RET.KILL_PROCESS), rules: [], x32: false };
  let arches: Arch[] | null = ["x86_64", "i386"];
  for (let i = 2; i < lines.length; i++) {
    const line = lines[i]!.replace(/#.*/, "").trim();
    if (!line) continue;
    const sec = /^\[([^\]]+)\]$/.exec(line);
    if (sec) {
      arches = archOf(sec[1]!, at(i));
      if (arches?.includes("x32")) policy.x32 = true;
      continue;
    }
    if (arches === null) continue;
    if (version === "1") {
      if (!/^\d+$/.test(line)) throw new LxtError(`${at(i)}: a version 1 policy lists syscall numbers, one per line`);
      policy.rules.push({ arch: "x86_64", nr: Number(line), name: line, action: RET.ALLOW, args: [] });
      continue;
    }
    if (line === "reject_force_umount") {
      // umount2(target, flags & MNT_FORCE) -> EACCES
      for (const a of arches)
        if (a !== "x32") policy.rules.push({ arch: a, nr: (a === "i386" ? I386 : X86_64).umount2!, name: "umount2", action: RET.ERRNO | EACCES, args: [{ index: 1, op: "MASKED_EQ", value: 1n, value2: 1n }] });
      continue;
    }
    const words = line.split(/\s+/);
    const name = words[0]!;
    const argStart = words.findIndex((w) => w.startsWith("["));
    const actWords = words.slice(1, argStart < 0 ? undefined : argStart);
    const args = argStart < 0 ? [] : words.slice(argStart).join("").match(/\[[^\]]*\]/g)!.map((a) => parseArg(a, at(i)));
    const act = action(actWords, at(i)) ?? ruleAction;
    let known = false;
    for (const a of arches) {
      const table = a === "i386" ? I386 : X86_64;
      const nr = /^\d+$/.test(name) ? Number(name) : table[name];
      if (nr === undefined) continue;
      known = true;
      policy.rules.push({ arch: a, nr: a === "x32" ? nr | X32_BIT : nr, name, action: act, args });
    }
    if (!known) throw new LxtError(`${at(i)}: unknown system call \`${name}\``, "check the name (as in the kernel's unistd headers)");
  }
  return policy;
}

export function loadSeccompProfile(path: string): SeccompPolicy {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new LxtError(`lxc.seccomp.profile: cannot read \`${path}\`: ${(e as Error).message}`, "fix the path in the container's config");
  }
  return parseSeccomp(text, path);
}

// ---- classic BPF (struct sock_filter: u16 code, u8 jt, u8 jf, u32 k) ----
const BPF = { LD_W_ABS: 0x20, JEQ_K: 0x15, JGT_K: 0x25, JGE_K: 0x35, JA: 0x05, RET_K: 0x06, AND_K: 0x54 };
type Insn = [code: number, jt: number, jf: number, k: number];
const ld = (off: number): Insn => [BPF.LD_W_ABS, 0, 0, off];
const ret = (k: number): Insn => [BPF.RET_K, 0, 0, k >>> 0];
const OFF_NR = 0;
const OFF_ARCH = 4;
const argLo = (i: number) => 16 + 8 * i;
const argHi = (i: number) => 16 + 8 * i + 4;

/**
 * One comparison as a block that falls through when it matches and jumps
 * `fail` instructions past its own end when it does not. 64-bit values are
 * compared as two 32-bit halves (high word first).
 */
function cmpBlock(a: ArgCmp): (fail: number) => Insn[] {
  const hi = Number((a.value >> 32n) & 0xffffffffn);
  const lo = Number(a.value & 0xffffffffn);
  switch (a.op) {
    case "EQ":
      return (f) => [ld(argHi(a.index)), [BPF.JEQ_K, 0, 2 + f, hi], ld(argLo(a.index)), [BPF.JEQ_K, 0, f, lo]];
    case "NE": // matches unless both halves are equal
      return (f) => [ld(argHi(a.index)), [BPF.JEQ_K, 0, 2, hi], ld(argLo(a.index)), [BPF.JEQ_K, f, 0, lo]];
    case "MASKED_EQ": {
      const mhi = hi;
      const mlo = lo;
      const vhi = Number((a.value2! >> 32n) & 0xffffffffn);
      const vlo = Number(a.value2! & 0xffffffffn);
      return (f) => [ld(argHi(a.index)), [BPF.AND_K, 0, 0, mhi], [BPF.JEQ_K, 0, 3 + f, vhi], ld(argLo(a.index)), [BPF.AND_K, 0, 0, mlo], [BPF.JEQ_K, 0, f, vlo]];
    }
    default: {
      // unsigned ordering: decide on the high word unless equal, then on the low word
      const [jop, incl] = a.op === "GT" || a.op === "LE" ? [BPF.JGT_K, a.op === "GT"] : [BPF.JGE_K, a.op === "GE"];
      // block: ld hi; jgt hi -> (GT/GE: match, LT/LE: fail); jeq hi -> low check else (GT/GE: fail, LT/LE: match); ld lo; j(op) lo
      const greater = a.op === "GT" || a.op === "GE";
      return (f) => [
        ld(argHi(a.index)),
        [BPF.JGT_K, greater ? 3 : 3 + f, 0, hi], // high > v: GT/GE match (skip to end), LT/LE fail
        [BPF.JEQ_K, 0, greater ? 2 + f : 2, hi], // high < v: GT/GE fail, LT/LE match
        ld(argLo(a.index)),
        incl ? [jop, 0, f, lo] : [jop, f, 0, lo], // GT/GE: match when lo (>|>=) v; LT/LE: match when not (>=|>)
      ];
    }
  }
}

function ruleBlock(r: SeccompRule): Insn[] {
  // ld nr; jeq NR else skip the block; [arg checks]; ret ACTION
  const checks = r.args.map(cmpBlock);
  const lens = checks.map((c) => c(0).length);
  const total = lens.reduce((x, y) => x + y, 0) + 1; // + ret
  const out: Insn[] = [ld(OFF_NR)];
  out.push([BPF.JEQ_K, 0, total, r.nr >>> 0]);
  let pos = 0;
  checks.forEach((c, i) => {
    pos += lens[i]!;
    out.push(...c(total - pos));
  });
  out.push(ret(r.action));
  for (const i of out) if (i[1] > 255 || i[2] > 255) throw new LxtError(`seccomp rule for ${r.name} is too long to compile`);
  return out;
}

function section(rules: SeccompRule[], dflt: number, x32Guard: boolean): Insn[] {
  const out: Insn[] = [];
  if (x32Guard) out.push(ld(OFF_NR), [BPF.JGE_K, 0, 1, X32_BIT], ret(RET.ERRNO | ENOSYS));
  for (const r of rules) out.push(...ruleBlock(r));
  out.push(ret(dflt));
  return out;
}

/** The filter program: architecture dispatch, then each architecture's rules in file order, then its default. */
export function compileSeccomp(p: SeccompPolicy): Uint8Array {
  const native = section(p.rules.filter((r) => r.arch === "x86_64" || r.arch === "x32"), p.defaultAction, !p.x32);
  const i386 = section(p.rules.filter((r) => r.arch === "i386"), p.defaultAction, false);
  // 0 ld arch; 1 jeq x86_64 -> 3; 2 ja i386; 3.. native; then: jeq i386 else foreign
  const prog: Insn[] = [ld(OFF_ARCH), [BPF.JEQ_K, 1, 0, AUDIT_ARCH_X86_64], [BPF.JA, 0, 0, native.length], ...native];
  prog.push([BPF.JEQ_K, 1, 0, AUDIT_ARCH_I386], ret(RET.KILL_PROCESS), ...i386);
  if (prog.length > 4096) throw new LxtError(`the seccomp policy compiles to ${prog.length} instructions; the kernel takes at most 4096`);
  const buf = new DataView(new ArrayBuffer(prog.length * 8));
  prog.forEach(([code, jt, jf, k], i) => {
    buf.setUint16(i * 8, code, true);
    buf.setUint8(i * 8 + 2, jt);
    buf.setUint8(i * 8 + 3, jf);
    buf.setUint32(i * 8 + 4, k >>> 0, true);
  });
  return new Uint8Array(buf.buffer);
}

/** LXC's default device policy (its common.conf): deny all, allow mknod, the standard nodes, ptys, tun and fuse. */
export const DEFAULT_DEVICE_RULES: Array<[string, string]> = [
  ["lxc.cgroup.devices.deny", "a"],
  ["lxc.cgroup.devices.allow", "c *:* m"],
  ["lxc.cgroup.devices.allow", "b *:* m"],
  ...["1:3", "1:5", "1:7", "1:8", "1:9", "5:0", "5:1", "5:2", "136:*", "10:200", "10:229"].map((d): [string, string] => ["lxc.cgroup.devices.allow", `c ${d} rwm`]),
];

/** LXC's customary policy for new containers (its common.seccomp). */
export const DEFAULT_POLICY = `2
denylist
reject_force_umount  # comment this to allow umount -f;  not recommended
[all]
kexec_load errno 1
open_by_handle_at errno 1
init_module errno 1
finit_module errno 1
delete_module errno 1
`;

/** Runs a compiled program on one syscall (tests check verdicts by executing the program). */
export function runFilter(prog: Uint8Array, data: { nr: number; arch?: number; args?: bigint[] }): number {
  const dv = new DataView(prog.buffer, prog.byteOffset, prog.byteLength);
  const mem = new DataView(new ArrayBuffer(64));
  mem.setUint32(0, data.nr >>> 0, true);
  mem.setUint32(4, (data.arch ?? AUDIT_ARCH_X86_64) >>> 0, true);
  (data.args ?? []).forEach((a, i) => mem.setBigUint64(16 + 8 * i, a, true));
  let A = 0;
  for (let pc = 0; pc < prog.length / 8; pc++) {
    const code = dv.getUint16(pc * 8, true);
    const jt = dv.getUint8(pc * 8 + 2);
    const jf = dv.getUint8(pc * 8 + 3);
    const k = dv.getUint32(pc * 8 + 4, true);
    switch (code) {
      case BPF.LD_W_ABS: A = mem.getUint32(k, true); break;
      case BPF.AND_K: A = (A & k) >>> 0; break;
      case BPF.JEQ_K: pc += A === k ? jt : jf; break;
      case BPF.JGT_K: pc += A > k ? jt : jf; break;
      case BPF.JGE_K: pc += A >= k ? jt : jf; break;
      case BPF.JA: pc += k; break;
      case BPF.RET_K: return k;
      default: throw new Error(`unknown BPF instruction ${code.toString(16)} at ${pc}`);
    }
  }
  throw new Error("the program fell off its end");
}

export const SECCOMP_RET = RET;
export const AUDIT = { X86_64: AUDIT_ARCH_X86_64, I386: AUDIT_ARCH_I386 };
