import { describe, expect, test } from "bun:test";
import { COMMON, parseArgs, UsageError } from "../../src/cli/args.ts";
import { humanSize, table, field } from "../../src/cli/format.ts";
import { parseFibTrie, parseIfInet6, parseNetDev } from "../../src/container/netinfo.ts";
import { checkName } from "../../src/container/context.ts";
import { expandHwaddr } from "../../src/container/create.ts";
import { parseSignal } from "../../src/cli/cmd/kill.ts";

const specs = [...COMMON, { name: "define", short: "s", kind: "list" as const }, { name: "foreground", short: "F", kind: "flag" as const }, { name: "daemon", short: "d", kind: "flag" as const }];

describe("getopt-style argument parsing", () => {
  test("short, bundled, inline and long forms", () => {
    const p = parseArgs(["-nweb", "-dF", "--lxcpath=/x", "-P", "/y", "-s", "a=1", "--define", "b=2", "pos"], specs, "t");
    expect(p.opts.name).toBe("web");
    expect(p.opts.daemon).toBe(true);
    expect(p.opts.foreground).toBe(true);
    expect(p.opts.lxcpath).toEqual(["/x", "/y"]);
    expect(p.opts.define).toEqual(["a=1", "b=2"]);
    expect(p.args).toEqual(["pos"]);
    expect(p.rest).toBeUndefined();
  });
  test("-- ends options; what follows is the command, untouched", () => {
    const p = parseArgs(["-n", "c", "--", "/bin/sh", "-c", "exit 3"], specs, "t");
    expect(p.rest).toEqual(["/bin/sh", "-c", "exit 3"]);
  });
  test("unknown option and missing value are usage errors naming the option", () => {
    expect(() => parseArgs(["--bogus"], specs, "lxt start")).toThrow("unknown option --bogus");
    expect(() => parseArgs(["-n"], specs, "lxt start")).toThrow("option -n needs a value");
    expect(() => parseArgs(["-x"], specs, "lxt start")).toThrow(UsageError);
    expect(() => parseArgs(["--daemon=1"], specs, "t")).toThrow("takes no value");
  });
});

describe("formats", () => {
  test("humanSize matches lxc-info", () => {
    expect(humanSize(0)).toBe("0 bytes");
    expect(humanSize(1023)).toBe("1023 bytes");
    expect(humanSize(667648)).toBe("652.00 KiB");
    expect(humanSize(3 * 1048576)).toBe("3.00 MiB");
  });
  test("table pads like lxc-ls --fancy", () => {
    expect(table(["NAME", "STATE"], [["demo1", "RUNNING"]])).toBe("NAME  STATE   \ndemo1 RUNNING \n");
    expect(field("Name:", "demo1")).toBe("Name:           demo1\n");
  });
});

describe("names, MACs, signals", () => {
  test("container names", () => {
    expect(checkName("web-1.a_b")).toBe("web-1.a_b");
    for (const bad of ["", "a/b", "..", "-x", "a b", "x".repeat(65)]) expect(() => checkName(bad)).toThrow();
  });
  test("hwaddr x expansion keeps fixed digits", () => {
    const m = expandHwaddr("00:16:3e:xx:xx:xx");
    expect(m).toMatch(/^00:16:3e:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$/);
  });
  test("signals by name and number", () => {
    expect(parseSignal("9")).toBe(9);
    expect(parseSignal("TERM")).toBe(15);
    expect(parseSignal("SIGPWR")).toBe(30);
    expect(parseSignal("SIGRTMIN+3")).toBe(37);
    expect(() => parseSignal("NOPE")).toThrow("unknown signal");
  });
});

describe("/proc/PID/net parsers", () => {
  test("fib_trie local addresses, loopback excluded", () => {
    const t = `Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 10.0.3.5
        /32 host LOCAL
     |-- 127.0.0.1
        /32 host LOCAL
     |-- 10.0.3.255
        /32 link BROADCAST
`;
    expect(parseFibTrie(t)).toEqual(["10.0.3.5"]);
  });
  test("if_inet6 global addresses only", () => {
    const t = `00000000000000000000000000000001 01 80 10 80       lo
fd420000000000000000000000000005 02 40 00 00     eth0
fe800000000000000216 3efffe123456 02 40 20 80     eth0`.replace("0216 3eff", "02163eff");
    expect(parseIfInet6(t)).toEqual(["fd42::5"]);
  });
  test("net/dev byte counters", () => {
    const t = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0
  eth0:    2000      10    0    0    0     0          0         0     3000      12    0    0    0     0       0          0
`;
    expect(parseNetDev(t)).toEqual([
      { name: "lo", rxBytes: 100, txBytes: 100 },
      { name: "eth0", rxBytes: 2000, txBytes: 3000 },
    ]);
  });
});

describe("attach environment", async () => {
  const { attachEnv, DEFAULT_PATH } = await import("../../src/container/attach.ts");
  const base = { elevated: false, setVars: [] as Array<[string, string]>, keepVars: [] as string[] };
  test("--clear-env leaves PATH and container=lxc, like lxc-attach", () => {
    expect(attachEnv({ ...base, clearEnv: true }, [], { HOME: "/root", PATH: "/x" })).toEqual({ PATH: DEFAULT_PATH, container: "lxc" });
  });
  test("-v and --keep-var and lxc.environment, in LXC's order", () => {
    const env = attachEnv(
      { ...base, clearEnv: true, setVars: [["FOO", "bar"]], keepVars: ["TERM"] },
      [{ name: "A", value: "1" }, { name: "HOME" }],
      { TERM: "xterm", HOME: "/root" },
    );
    expect(env).toEqual({ TERM: "xterm", PATH: DEFAULT_PATH, container: "lxc", A: "1", HOME: "/root", FOO: "bar" });
  });
  test("default keeps the caller's environment", () => {
    expect(attachEnv({ ...base, clearEnv: false }, [], { X: "1" })).toEqual({ X: "1", container: "lxc" });
  });
});
