// Device rules -> policy (the v1 controller's semantics) -> eBPF program bytes.
import { describe, expect, test } from "bun:test";
import { compileDeviceProgram, devicePolicy, parseDeviceRule } from "../../src/cgroup/devices.ts";

const allow = (rule: string) => ({ allow: true, rule });
const deny = (rule: string) => ({ allow: false, rule });

describe("device rules", () => {
  test("parse: types, wildcards, access letters; errors name the rule", () => {
    expect(parseDeviceRule("c 1:3 rwm")).toEqual({ type: "c", major: 1, minor: 3, access: 7 });
    expect(parseDeviceRule("b *:* m")).toEqual({ type: "b", major: -1, minor: -1, access: 1 });
    expect(parseDeviceRule("c 136:* rw")).toEqual({ type: "c", major: 136, minor: -1, access: 6 });
    expect(parseDeviceRule("a")).toEqual({ type: "a", major: -1, minor: -1, access: 7 });
    expect(() => parseDeviceRule("c 1:x rwm", "lxc.cgroup.devices.allow")).toThrow("lxc.cgroup.devices.allow: cannot parse `c 1:x rwm`");
    expect(() => parseDeviceRule("z 1:1 r")).toThrow("cannot parse");
  });
  test("policy: `a` resets; exceptions against the default; agreeing rules trim exact matches only", () => {
    expect(devicePolicy([])).toEqual({ defaultAllow: true, exceptions: [] });
    const p = devicePolicy([deny("a"), allow("c 1:3 rwm"), allow("c 136:* rwm"), deny("c 1:3 w"), deny("c 136:5 rwm")]);
    expect(p.defaultAllow).toBe(false);
    expect(p.exceptions).toEqual([
      { type: "c", major: 1, minor: 3, access: 3 },
      { type: "c", major: 136, minor: -1, access: 7 },
    ]);
    expect(devicePolicy([deny("a"), allow("c 1:3 rwm"), deny("c 1:3 rwm")]).exceptions).toEqual([]);
    const q = devicePolicy([allow("c 1:3 rwm"), deny("b 8:* rwm"), deny("a"), allow("c 5:1 rwm")]);
    expect(q).toEqual({ defaultAllow: false, exceptions: [{ type: "c", major: 5, minor: 1, access: 7 }] });
    expect(devicePolicy([deny("b 8:* w")])).toEqual({ defaultAllow: true, exceptions: [{ type: "b", major: 8, minor: -1, access: 4 }] });
  });
  test("program: whole 8-byte instructions, ends in exit with the default; each exception is a guarded return", () => {
    const none = compileDeviceProgram(devicePolicy([deny("a")]));
    expect(none.length).toBe(8 * 8); // 6 loads/shifts + mov + exit
    expect(none.at(-8)).toBe(0x95); // exit
    expect(none[none.length - 16]).toBe(0xb7); // r0 = default
    expect(new DataView(none.buffer).getInt32(none.length - 12, true)).toBe(0); // deny
    const one = compileDeviceProgram(devicePolicy([deny("a"), allow("c 1:3 r")]));
    // + JNE type, MOV/AND/JNE access, JNE major, JNE minor, MOV r0, EXIT
    expect(one.length).toBe(8 * (8 + 8));
    const dv = new DataView(one.buffer);
    // the first check jumps over the rest of its block (7 instructions after it)
    expect(one[6 * 8]).toBe(0x55);
    expect(dv.getInt16(6 * 8 + 2, true)).toBe(7);
    expect(dv.getInt32(6 * 8 + 4, true)).toBe(2); // BPF_DEVCG_DEV_CHAR
  });
});
