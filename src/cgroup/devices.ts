// Device access rules (lxc.cgroup.devices.allow/deny, lxc.cgroup2.devices.*)
// and, for cgroup v2, which has no devices controller, their translation into
// an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE that the shim attaches
// to the container's cgroup (native/shim.c, op `devbpf`).
//
// Semantics are the v1 controller's: a default (allow or deny everything)
// and a list of exceptions. `a` resets both; a specific rule adds an exception
// when it goes against the default, and when it agrees with it takes its
// accesses away from an exception naming exactly the same devices (as the
// kernel does: `deny c 1:9 w` after `allow c 1:* rwm` changes nothing). A
// cgroup with no rules allows everything.
import { LxtError } from "../util/errors.ts";

export interface DeviceRule {
  type: "a" | "b" | "c";
  /** -1 = any (*) */
  major: number;
  minor: number;
  /** bit mask: m 1, r 2, w 4 (the BPF_DEVCG_ACC_* values) */
  access: number;
}

export interface DevicePolicy {
  defaultAllow: boolean;
  /** devices whose verdict is the opposite of the default */
  exceptions: DeviceRule[];
}

const ACC: Record<string, number> = { m: 1, r: 2, w: 4 };

/** Parses "c 1:3 rwm", "b *:* m", "a". */
export function parseDeviceRule(text: string, where = "device rule"): DeviceRule {
  const t = text.trim();
  if (t === "a" || t === "a *:* rwm") return { type: "a", major: -1, minor: -1, access: 7 };
  const m = /^([abc])\s+(\*|\d+):(\*|\d+)(?:\s+([rwm]+))?$/.exec(t);
  if (!m) throw new LxtError(`${where}: cannot parse \`${text}\``, "write TYPE MAJOR:MINOR ACCESS, e.g. `c 1:3 rwm` (TYPE a, b or c; * for any number; ACCESS of r, w, m)");
  const num = (s: string) => (s === "*" ? -1 : Number(s));
  const access = [...(m[4] ?? "rwm")].reduce((a, c) => a | ACC[c]!, 0);
  return { type: m[1] as DeviceRule["type"], major: num(m[2]!), minor: num(m[3]!), access };
}

/** The kernel's v1 controller takes accesses away only from an exception naming the same devices exactly. */
function same(a: DeviceRule, b: DeviceRule): boolean {
  return a.type === b.type && a.major === b.major && a.minor === b.minor;
}

/** Folds allow/deny lines, in config order, into a policy. */
export function devicePolicy(lines: Array<{ allow: boolean; rule: string }>): DevicePolicy {
  let p: DevicePolicy = { defaultAllow: true, exceptions: [] };
  for (const l of lines) {
    const r = parseDeviceRule(l.rule, `devices.${l.allow ? "allow" : "deny"}`);
    if (r.type === "a" && r.major === -1 && r.minor === -1) {
      p = { defaultAllow: l.allow, exceptions: [] };
      continue;
    }
    if (l.allow !== p.defaultAllow) p.exceptions.push(r);
    else {
      // agreeing with the default: take those accesses away from matching exceptions
      p.exceptions = p.exceptions
        .map((e) => (same(r, e) ? { ...e, access: e.access & ~r.access } : e))
        .filter((e) => e.access !== 0);
    }
  }
  return p;
}

// ---- eBPF encoding (struct bpf_insn: code, dst|src<<4, off s16, imm s32) ----
const OP = { LDXW: 0x61, MOV64_REG: 0xbf, MOV64_IMM: 0xb7, RSH64_IMM: 0x77, AND64_IMM: 0x57, JNE_IMM: 0x55, EXIT: 0x95 };

function insn(code: number, dst: number, src: number, off: number, imm: number): number[] {
  const b = new DataView(new ArrayBuffer(8));
  b.setUint8(0, code);
  b.setUint8(1, (dst & 0xf) | ((src & 0xf) << 4));
  b.setInt16(2, off, true);
  b.setInt32(4, imm, true);
  return [...new Uint8Array(b.buffer)];
}

const TYPE_BITS = { b: 1, c: 2 } as const; // BPF_DEVCG_DEV_BLOCK / _CHAR

/**
 * The program: r2 = device type, r3 = requested access, r4 = major, r5 = minor
 * (from struct bpf_cgroup_dev_ctx); each exception returns the opposite of
 * the default when it matches; the end returns the default. 1 allows, 0 denies.
 */
export function compileDeviceProgram(p: DevicePolicy): Uint8Array {
  const body: number[][] = [];
  for (const e of p.exceptions) {
    const checks: Array<(skip: number) => number[][]> = [];
    if (e.type !== "a") checks.push((skip) => [insn(OP.JNE_IMM, 2, 0, skip, TYPE_BITS[e.type as "b" | "c"])]);
    // every requested access must be in the rule: (access & ~allowed) == 0
    if (e.access !== 7) checks.push((skip) => [insn(OP.MOV64_REG, 0, 3, 0, 0), insn(OP.AND64_IMM, 0, 0, 0, ~e.access & 7), insn(OP.JNE_IMM, 0, 0, skip, 0)]);
    if (e.major !== -1) checks.push((skip) => [insn(OP.JNE_IMM, 4, 0, skip, e.major)]);
    if (e.minor !== -1) checks.push((skip) => [insn(OP.JNE_IMM, 5, 0, skip, e.minor)]);
    // each check ends in a jump past the rest of this exception's instructions
    const tail = [insn(OP.MOV64_IMM, 0, 0, 0, p.defaultAllow ? 0 : 1), insn(OP.EXIT, 0, 0, 0, 0)];
    const lens = checks.map((c) => c(0).length);
    const total = lens.reduce((x, y) => x + y, 0) + tail.length;
    const block: number[][] = [];
    let pos = 0;
    checks.forEach((c, i) => {
      pos += lens[i]!;
      block.push(...c(total - pos));
    });
    block.push(...tail);
    body.push(...block);
  }
  const prologue = [
    insn(OP.LDXW, 2, 1, 0, 0), // r2 = ctx->access_type
    insn(OP.MOV64_REG, 3, 2, 0, 0),
    insn(OP.RSH64_IMM, 3, 0, 0, 16), // r3 = access
    insn(OP.AND64_IMM, 2, 0, 0, 0xffff), // r2 = type
    insn(OP.LDXW, 4, 1, 4, 0), // r4 = ctx->major
    insn(OP.LDXW, 5, 1, 8, 0), // r5 = ctx->minor
  ];
  const epilogue = [insn(OP.MOV64_IMM, 0, 0, 0, p.defaultAllow ? 1 : 0), insn(OP.EXIT, 0, 0, 0, 0)];
  return new Uint8Array([...prologue, ...body, ...epilogue].flat());
}
