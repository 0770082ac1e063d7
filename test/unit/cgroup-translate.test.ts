// v1 <-> v2 translation of the common resource keys (runc's formulas).
import { describe, expect, test } from "bun:test";
import { blkioToIoWeight, ioToBlkioWeight, parseBytes, sharesToWeight, translateSettings, weightToShares } from "../../src/cgroup/translate.ts";

const kv = (key: string, value: string) => ({ key, value });

describe("cgroup v1 -> v2", () => {
  test("cpu.shares -> cpu.weight at the ends and the default", () => {
    expect([2, 1024, 262144].map(sharesToWeight)).toEqual([1, 39, 10000]);
    expect(translateSettings([kv("cpu.shares", "512")], 1, 2)).toEqual([kv("cpu.weight", "20")]);
  });
  test("quota and period combine into one cpu.max; quota alone gets the default period; -1 is max", () => {
    expect(translateSettings([kv("cpu.cfs_quota_us", "50000"), kv("cpu.cfs_period_us", "200000")], 1, 2)).toEqual([kv("cpu.max", "50000 200000")]);
    expect(translateSettings([kv("cpu.cfs_quota_us", "25000")], 1, 2)).toEqual([kv("cpu.max", "25000 100000")]);
    expect(translateSettings([kv("cpu.cfs_quota_us", "-1"), kv("cpu.cfs_period_us", "100000")], 1, 2)).toEqual([kv("cpu.max", "max 100000")]);
  });
  test("memory: sizes as users write them; memsw becomes swap.max = memsw - memory", () => {
    expect(translateSettings([kv("memory.limit_in_bytes", "512M"), kv("memory.memsw.limit_in_bytes", "1G")], 1, 2)).toEqual([
      kv("memory.max", "536870912"),
      kv("memory.swap.max", "536870912"),
    ]);
    expect(translateSettings([kv("memory.limit_in_bytes", "-1")], 1, 2)).toEqual([kv("memory.max", "max")]);
    expect(translateSettings([kv("memory.soft_limit_in_bytes", "256m")], 1, 2)).toEqual([kv("memory.low", "268435456")]);
    expect(() => translateSettings([kv("memory.memsw.limit_in_bytes", "1G")], 1, 2)).toThrow("no memory.limit_in_bytes is set");
    expect(() => translateSettings([kv("memory.limit_in_bytes", "1G"), kv("memory.memsw.limit_in_bytes", "512M")], 1, 2)).toThrow("is below memory.limit_in_bytes");
    expect(() => translateSettings([kv("memory.limit_in_bytes", "lots")], 1, 2)).toThrow("`memory.limit_in_bytes = lots`: not a size");
  });
  test("blkio.weight -> io.weight", () => {
    expect([10, 500, 1000].map(blkioToIoWeight)).toEqual([1, 4950, 10000]);
    expect(translateSettings([kv("blkio.weight", "500")], 1, 2)).toEqual([kv("io.weight", "default 4950")]);
  });
});

describe("cgroup v2 -> v1", () => {
  test("the reverse maps", () => {
    expect([1, 100, 10000].map(weightToShares)).toEqual([2, 2597, 262144]);
    expect(translateSettings([kv("cpu.weight", "100")], 2, 1)).toEqual([kv("cpu.shares", "2597")]);
    expect(translateSettings([kv("cpu.max", "max 100000")], 2, 1)).toEqual([kv("cpu.cfs_period_us", "100000"), kv("cpu.cfs_quota_us", "-1")]);
    expect(translateSettings([kv("memory.max", "1G"), kv("memory.swap.max", "512M")], 2, 1)).toEqual([
      kv("memory.limit_in_bytes", "1073741824"),
      kv("memory.memsw.limit_in_bytes", "1610612736"),
    ]);
    expect(translateSettings([kv("io.weight", "default 100")], 2, 1)).toEqual([kv("blkio.weight", String(ioToBlkioWeight(100)))]);
    expect(() => translateSettings([kv("cpu.max", "half")], 2, 1)).toThrow("write `QUOTA PERIOD` or `max PERIOD`");
    expect(() => translateSettings([kv("io.weight", "8:0 200")], 2, 1)).toThrow("only a default io.weight translates");
    expect(() => translateSettings([kv("memory.high", "1G")], 2, 1)).toThrow("this key has no cgroup v1 counterpart");
  });
  test("sizes", () => {
    expect(parseBytes("1G", "k")).toBe(1073741824);
    expect(parseBytes("max", "k")).toBe(-1);
    expect(parseBytes("10k", "k")).toBe(10240);
  });
});
