import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { loadConfig } from "../../src/config/load.ts";
import { updateConfigText } from "../../src/config/update.ts";
import { specFromConfig, splitCommand } from "../../src/spec/fromLxcConfig.ts";
import { ConfigError } from "../../src/util/errors.ts";

const EX = new URL("../../../shared/reference/lxc-config-examples", import.meta.url).pathname;
const load = (text: string, defines?: string[]) => loadConfig("/t/config", { text, defines });
const spec = (path: string, text?: string) => specFromConfig(loadConfig(path, { text }), { name: "c", lxcpath: "/l", configPath: "x" });

describe("LXC's line rules", () => {
  test("quotes stripped, no trailing comments, last scalar wins, martian lines ignored", () => {
    const c = load("lxc.uts.name = foo # bar\nnotlxc.key = 1\n  # indented\n\nlxc.tty.max = 1\nlxc.tty.max = 2\n");
    expect(c.get("lxc.uts.name")).toBe("foo # bar");
    expect(load("lxc.uts.name = 'quoted'").get("lxc.uts.name")).toBe("quoted");
    expect(c.get("lxc.tty.max")).toBe("2");
  });
  test("an empty value resets a list key", () => {
    const c = load("lxc.cap.drop = sys_module mknod\nlxc.cap.drop =\nlxc.cap.drop = net_raw\n");
    expect(c.getAll("lxc.cap.drop")).toEqual(["net_raw"]);
    expect(c.itemText("lxc.cap.drop")).toBe("net_raw");
  });
  test("-s defines apply after the file", () => {
    expect(load("lxc.uts.name = a\n", ["lxc.uts.name=defined"]).get("lxc.uts.name")).toBe("defined");
  });
});

describe("errors name file:line, the key, and the nearest key", () => {
  const err = (text: string): ConfigError => {
    try {
      load(text);
    } catch (e) {
      return e as ConfigError;
    }
    throw new Error(`accepted: ${text}`);
  };
  test.each([
    ["lxc.uts.name", /1: lxc.uts.name: Invalid configuration line/],
    ["lxc.bogus = 1", /Unsupported config key "lxc.bogus"/],
    ["lxc.console.buffer.logfile = /tmp/x", /Unsupported config key/],
    ["lxc.net = foo", /must not have a value/],
    ["lxc.net.0.type = bridge", /must be one of: veth/],
    ["lxc.net.0.type = veth\nlxc.net.0.vlan.id = 5", /does not apply to a veth NIC/],
    ["lxc.net.0.type = veth\nlxc.net.0.ipv4.address = 300.0.0.1/24", /Invalid ipv4 address/],
    ["lxc.net.0.type = veth\nlxc.net.0.ipv4 = 10.0.0.1/24", /Unknown network configuration key/],
    ["lxc.signal.halt = PWR", /signal/],
    ["lxc.cap.drop = sys_module\nlxc.cap.keep = sys_admin", /mutually exclusive/],
    ["lxc.cap.drop = not_a_cap", /invalid capability/],
    ["lxc.mount.auto = proc:mixed bogus", /Invalid filesystem to automount "bogus"/],
    ["lxc.idmap = b 0 100000 65536", /Invalid id mapping type: b/],
    ["lxc.idmap = u 0 100000", /Failed to parse id mappings/],
    ["lxc.arch = sparc", /Unsupported personality "sparc"/],
    ["lxc.start.auto = 2", /must be 0 or 1/],
    ["lxc.ephemeral = 2", /must be 0 or 1/],
    ["lxc.tty.max = -1", /non-negative integer/],
  ])("%p is refused", (text, re) => {
    const e = err(text);
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toMatch(re);
    expect(e.message).toMatch(/^\/t\/config:\d+: /);
  });
  test("did you mean", () => {
    expect(err("lxc.utsnam = x").hint).toBe("did you mean lxc.uts.name?");
    expect(err("lxc.net.3.linkk = br0").hint).toBe("did you mean lxc.net.3.link?");
  });
});

describe("values LXC accepts", () => {
  test("signals, arch aliases, classful prefix, NIC defaults", () => {
    const s = specFromConfig(load("lxc.signal.halt = sigpwr\nlxc.signal.reboot = SIGRTMIN+3\nlxc.arch = amd64\nlxc.net.0.ipv4.address = 10.0.0.1\nlxc.net.1.type = veth\n"), { name: "c", lxcpath: "/l", configPath: "x" });
    expect(s.signals.halt).toBe(30);
    expect(s.signals.reboot).toBe(37);
    expect(s.arch).toBe("x86_64");
    expect(s.nics[0]).toMatchObject({ type: "empty", ipv4: [{ address: "10.0.0.1", prefix: 8 }] });
    expect(s.nics[1]!.type).toBe("veth");
  });
  test("defaults: hostname, init, namespaces, rootfs", () => {
    const s = specFromConfig(load(""), { name: "web", lxcpath: "/var/lib/lxt", configPath: "x" });
    expect(s.hostname).toBe("web");
    expect(s.init.cmd).toEqual(["/sbin/init"]);
    // no lxc.rootfs.path: the host's root, as in LXC
    expect(s.rootfs).toMatchObject({ type: "dir", path: "/" });
    expect(s.namespaces.clone.sort()).toEqual(["cgroup", "ipc", "mnt", "net", "pid", "uts"]);
    expect(s.signals).toEqual({ halt: 30, reboot: 2, stop: 9, pdeath: 9 });
  });
  test("command lines split like a shell", () => {
    expect(splitCommand(`/bin/sh -c 'echo "a b"; exit 3'`)).toEqual(["/bin/sh", "-c", 'echo "a b"; exit 3']);
  });
});

describe("includes", () => {
  const dir = mkdtempSync("/tmp/lxt-cfg-");
  test("a file, a directory of *.conf, a missing directory; a missing file is an error", () => {
    writeFileSync(`${dir}/a.conf`, "lxc.uts.name = inc\n");
    mkdirSync(`${dir}/d`);
    writeFileSync(`${dir}/d/1.conf`, "lxc.tty.max = 3\n");
    writeFileSync(`${dir}/d/ignored.txt`, "lxc.tty.max = 9\n");
    const c = load(`lxc.include = ${dir}/a.conf\nlxc.include = ${dir}/d\nlxc.include = ${dir}/missing/\n`);
    expect(c.get("lxc.uts.name")).toBe("inc");
    expect(c.get("lxc.tty.max")).toBe("3");
    expect(() => load(`lxc.include = ${dir}/nope.conf\n`)).toThrow("does not exist");
    writeFileSync(`${dir}/bad.conf`, "\nlxc.nope = 1\n");
    expect(() => load(`lxc.include = ${dir}/bad.conf\n`)).toThrow(`${dir}/bad.conf:2`);
    rmSync(dir, { recursive: true });
  });
});

describe("reference configs: legacy and modern forms give the same ContainerSpec", () => {
  const files = existsSync(EX) ? readdirSync(EX).filter((f) => f.endsWith(".conf")) : [];
  if (!files.length) test.skip("no reference configs found", () => {});
  for (const f of files.filter((f) => !f.includes("-modern"))) {
    test(f, () => {
      const legacy = spec(`${EX}/${f}`);
      const modernPath = `${EX}/${f.replace(".conf", "-modern.conf")}`;
      if (!existsSync(modernPath)) return;
      const modern = spec(modernPath);
      const types = readFileSync(modernPath, "utf8").match(/^lxc\.net\.\d+\.type/gm) ?? [];
      if (new Set(types).size !== types.length) {
        // This "-modern" file reuses lxc.net.0 for every NIC, so LXC reads it as one NIC;
        // the legacy file has one NIC per lxc.network.type line.
        expect(legacy.nics.length).toBe(types.length);
        expect(modern.nics.length).toBe(new Set(types).size);
        return;
      }
      expect({ ...legacy, configPath: "" }).toEqual({ ...modern, configPath: "" });
      // and update-config turns the legacy text into one that loads to the same spec
      const updated = updateConfigText(readFileSync(`${EX}/${f}`, "utf8"));
      expect(updated.changed).toBeGreaterThan(0);
      expect({ ...spec(`${EX}/${f}`, updated.text), configPath: "" }).toEqual({ ...legacy, configPath: "" });
    });
  }
});

describe("update-config", () => {
  test("rewrites legacy keys, keeps comments and order, numbers NICs", () => {
    const r = updateConfigText("# c\nlxc.utsname = a\nlxc.network.type = veth\nlxc.network.ipv4 = 10.0.0.2/24\nlxc.network.type = empty\nlxc.rootfs = /r\n");
    expect(r.text).toBe("# c\nlxc.uts.name = a\nlxc.net.0.type = veth\nlxc.net.0.ipv4.address = 10.0.0.2/24\nlxc.net.1.type = empty\nlxc.rootfs.path = dir:/r\n");
    expect(r.changed).toBe(5);
  });
  const tool = "/usr/bin/lxc-update-config";
  (existsSync(tool) && existsSync(EX) ? test : test.skip)("matches the real lxc-update-config on the reference legacy configs", () => {
    const dir = mkdtempSync("/tmp/lxt-upd-");
    for (const f of readdirSync(EX).filter((f) => f.endsWith(".conf") && !f.includes("-modern"))) {
      writeFileSync(`${dir}/${f}`, readFileSync(`${EX}/${f}`));
      Bun.spawnSync([tool, "-c", `${dir}/${f}`], { stdout: "ignore", stderr: "ignore" });
      const theirs = readFileSync(`${dir}/${f}`, "utf8");
      const ours = updateConfigText(readFileSync(`${EX}/${f}`, "utf8")).text;
      const keys = (t: string) => t.split("\n").filter((l) => l.trim().startsWith("lxc.")).map((l) => l.replace(/\s+/g, " ").trim());
      expect({ f, keys: keys(ours) }).toEqual({ f, keys: keys(theirs) });
    }
    rmSync(dir, { recursive: true });
  });
});
