import { describe, expect, test } from "bun:test";
import { splitCommand } from "../../src/spec/fromLxcConfig.ts";
import { joinCommand } from "../../src/templates/oci.ts";

describe("oci template", () => {
  test("an image's argv survives lxc.init.cmd's splitting", () => {
    for (const argv of [["/bin/sh", "-c", 'echo "hi $X"; exit 3'], ["a b", "it's", "", "x\"y'z"], ["/app", "--flag=1"]])
      expect(splitCommand(joinCommand(argv))).toEqual(argv);
  });
});
