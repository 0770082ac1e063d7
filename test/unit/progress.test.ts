import { describe, expect, test } from "bun:test";
import { Progress } from "../../src/util/progress.ts";

function sink(isTTY: boolean) {
  const out: string[] = [];
  return { out, w: { isTTY, write: (s: string) => out.push(s) } };
}

describe("progress", () => {
  test("not a terminal: a line when it starts and a summary when it ends", () => {
    const { out, w } = sink(false);
    const p = new Progress("oci: fetching sha256:abc", 4 * 1048576, w);
    for (let i = 0; i < 4; i++) p.add(1048576);
    p.finish();
    expect(out.length).toBe(2);
    expect(out[0]).toBe("oci: fetching sha256:abc (4.0 MiB)...\n");
    expect(out[1]).toMatch(/^oci: fetching sha256:abc: done, 4\.0 MiB in \d+\.\d s/);
  });
  test("a terminal: one bar redrawn in place with its percentage, ended by a newline", async () => {
    const { out, w } = sink(true);
    const p = new Progress("x", 1000 * 1048576, w);
    p.add(500 * 1048576);
    await Bun.sleep(110);
    p.add(1); // redrawn: more than 100 ms since the last
    p.finish();
    expect(out.every((s, i) => i === out.length - 1 || s.startsWith("\rx ["))).toBe(true);
    expect(out.some((s) => s.includes("[##########----------]  50%  500.0/1000.0 MiB"))).toBe(true);
    expect(out[out.length - 1]).toBe("  done\n");
  });
  test("small transfers show nothing", () => {
    const { out, w } = sink(false);
    const p = new Progress("config", 900, w);
    p.add(900);
    p.finish();
    expect(out).toEqual([]);
  });
});
