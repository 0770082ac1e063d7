// LXC seccomp policies -> classic BPF, checked by running the program on
// sample syscalls (runFilter is a cBPF interpreter for the instructions lxt emits).
import { describe, expect, test } from "bun:test";
import { AUDIT, compileSeccomp, DEFAULT_POLICY, parseSeccomp, runFilter, SECCOMP_RET as R } from "../../src/security/seccomp.ts";
import { I386, X86_64 } from "../../src/security/syscalls.ts";

const verdict = (policy: string, nr: number, o: { arch?: number; args?: bigint[] } = {}) => runFilter(compileSeccomp(parseSeccomp(policy, "/p")), { nr, ...o });

describe("seccomp policies", () => {
  test("LXC's default denylist: the listed calls fail with EPERM on x86_64 and through the i386 ABI; the rest pass", () => {
    expect(verdict(DEFAULT_POLICY, X86_64.kexec_load!)).toBe(R.ERRNO | 1);
    expect(verdict(DEFAULT_POLICY, I386.kexec_load!, { arch: AUDIT.I386 })).toBe(R.ERRNO | 1);
    expect(verdict(DEFAULT_POLICY, X86_64.init_module!)).toBe(R.ERRNO | 1);
    expect(verdict(DEFAULT_POLICY, X86_64.read!)).toBe(R.ALLOW);
    expect(verdict(DEFAULT_POLICY, I386.read!, { arch: AUDIT.I386 })).toBe(R.ALLOW);
    // reject_force_umount: umount2 with MNT_FORCE only
    expect(verdict(DEFAULT_POLICY, X86_64.umount2!, { args: [0n, 1n] })).toBe(R.ERRNO | 13);
    expect(verdict(DEFAULT_POLICY, X86_64.umount2!, { args: [0n, 2n] })).toBe(R.ALLOW);
    // x32 calls are refused, foreign architectures killed
    expect(verdict(DEFAULT_POLICY, X86_64.read! | 0x40000000)).toBe(R.ERRNO | 38);
    expect(verdict(DEFAULT_POLICY, 0, { arch: 0xc00000b7 })).toBe(R.KILL_PROCESS);
  });
  test("allowlist: default action from the header, listed calls allowed; version 1 takes numbers", () => {
    const p = "2\nallowlist errno 1\nread\nwrite\nexit_group\n";
    expect(verdict(p, X86_64.write!)).toBe(R.ALLOW);
    expect(verdict(p, X86_64.mount!)).toBe(R.ERRNO | 1);
    expect(verdict("2\nallowlist\nread\n", X86_64.mount!)).toBe(R.KILL_PROCESS);
    expect(verdict("1\nwhitelist\n0\n1\n", 1)).toBe(R.ALLOW);
    expect(verdict("1\nwhitelist\n0\n1\n", 2)).toBe(R.KILL_PROCESS);
  });
  test("actions and argument comparisons, 64-bit values in two halves", () => {
    const p = [
      "2", "denylist",
      "[x86_64]",
      "chmod errno 1 [1,0x1ff,SCMP_CMP_EQ]",
      "kill [0,5,SCMP_CMP_GT]",
      "ioctl trap [1,0x5401,SCMP_CMP_NE]",
      "personality trace 7 [0,0x100000000,SCMP_CMP_GE]",
      "mmap errno 12 [2,4,SCMP_CMP_MASKED_EQ,4]",
      "dup log [0,3,SCMP_CMP_LT]",
      "dup2 errno 9 [0,3,SCMP_CMP_LE]",
      "",
    ].join("\n");
    expect(verdict(p, X86_64.chmod!, { args: [0n, 0o777n] })).toBe(R.ERRNO | 1);
    expect(verdict(p, X86_64.chmod!, { args: [0n, 0o755n] })).toBe(R.ALLOW);
    expect(verdict(p, X86_64.kill!, { args: [6n] })).toBe(R.KILL_PROCESS);
    expect(verdict(p, X86_64.kill!, { args: [5n] })).toBe(R.ALLOW);
    expect(verdict(p, X86_64.kill!, { args: [0x100000000n] })).toBe(R.KILL_PROCESS); // high word decides
    expect(verdict(p, X86_64.ioctl!, { args: [0n, 0x5401n] })).toBe(R.ALLOW);
    expect(verdict(p, X86_64.ioctl!, { args: [0n, 0x5402n] })).toBe(R.TRAP);
    expect(verdict(p, X86_64.personality!, { args: [0xffffffffn] })).toBe(R.ALLOW);
    expect(verdict(p, X86_64.personality!, { args: [0x100000000n] })).toBe(R.TRACE | 7);
    expect(verdict(p, X86_64.mmap!, { args: [0n, 0n, 7n] })).toBe(R.ERRNO | 12);
    expect(verdict(p, X86_64.mmap!, { args: [0n, 0n, 3n] })).toBe(R.ALLOW);
    expect(verdict(p, X86_64.dup!, { args: [2n] })).toBe(R.LOG);
    expect(verdict(p, X86_64.dup!, { args: [3n] })).toBe(R.ALLOW);
    expect(verdict(p, X86_64.dup2!, { args: [3n] })).toBe(R.ERRNO | 9);
    expect(verdict(p, X86_64.dup2!, { args: [4n] })).toBe(R.ALLOW);
    // [x86_64] rules do not reach i386 calls
    expect(verdict(p, I386.chmod!, { arch: AUDIT.I386, args: [0n, 0o777n] })).toBe(R.ALLOW);
  });
  test("sections for other architectures are skipped; errors name file:line", () => {
    expect(verdict("2\ndenylist\n[arm64]\nnot_a_real_call errno 1\n", X86_64.read!)).toBe(R.ALLOW);
    expect(() => parseSeccomp("3\ndenylist\n", "/p")).toThrow("/p:1: the first line must be the policy version");
    expect(() => parseSeccomp("2\ngreylist\n", "/p")).toThrow("/p:2: the second line must be allowlist or denylist");
    expect(() => parseSeccomp("2\ndenylist\nnot_a_call\n", "/p")).toThrow("/p:3: unknown system call `not_a_call`");
    expect(() => parseSeccomp("2\ndenylist\nread frobnicate\n", "/p")).toThrow("/p:3: unknown action `frobnicate`");
    expect(() => parseSeccomp("2\ndenylist\nread errno\n", "/p")).toThrow("/p:3: `errno` needs a number");
    expect(() => parseSeccomp("2\ndenylist\nread errno 1 [9,1,SCMP_CMP_EQ]\n", "/p")).toThrow("cannot parse the argument comparison");
    expect(() => parseSeccomp("2\ndenylist\n[sparc]\n", "/p")).toThrow("/p:3: unknown architecture section [sparc]");
    expect(() => parseSeccomp("2\ndenylist\nioctl notify\n", "/p")).toThrow("needs a seccomp notification proxy");
  });
});
