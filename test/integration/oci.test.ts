// OCI images for real: a two-layer busybox image (the second layer with a
// whiteout and an opaque directory) built here as an OCI layout, a docker
// archive of it, an in-test registry (HTTP API v2 with a bearer-token
// challenge), and Debian's docker-registry with the image pushed by skopeo.
// Layers are unpacked once and shared; the image's config runs.
import { afterAll, afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { LXT, skipReason, TestEnv } from "./helpers.ts";
import { buildImage, sh, type Image } from "./oci-image.ts";

const skip = skipReason();
if (skip) console.warn(`SKIP oci: ${skip}`);
const it = skip ? test.skip : test;


/** A registry speaking the v2 API with a bearer-token challenge; `tamper` serves wrong bytes for one blob. */
function registry(img: Image, o: { tamper?: string } = {}) {
  const seen: string[] = [];
  const server: ReturnType<typeof Bun.serve> = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req): Response {
      const u = new URL(req.url);
      seen.push(u.pathname);
      if (u.pathname === "/token") return Response.json({ token: "t0ken" });
      if (req.headers.get("authorization") !== "Bearer t0ken")
        return new Response("unauthorized", { status: 401, headers: { "WWW-Authenticate": `Bearer realm="http://127.0.0.1:${server.port}/token",service="test",scope="repository:test/img:pull"` } });
      const m = /^\/v2\/test\/img\/(manifests|blobs)\/(.+)$/.exec(u.pathname);
      if (!m) return new Response("no", { status: 404 });
      if (m[1] === "manifests" && (m[2] === "latest" || m[2] === img.manifestDigest)) return new Response(img.manifest, { headers: { "Content-Type": "application/vnd.oci.image.manifest.v1+json" } });
      const b = img.blobs.get(m[2]!);
      if (!b) return new Response("no", { status: 404 });
      return new Response(m[2] === o.tamper ? new TextEncoder().encode("not the layer") : b);
    },
  });
  return { server, seen };
}

/** lxt, run without blocking this process's event loop (the registry lives in it). */
async function lxtAsync(t: TestEnv, args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const [cmd, ...rest] = args;
  const p = Bun.spawn([LXT, cmd!, "-P", t.lxcpath, ...rest], { env: t.env(env), stdout: "pipe", stderr: "pipe" });
  const [code, stdout, stderr] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code, stdout, stderr };
}

describe("oci images", () => {
  let t: TestEnv;
  let img: Image;
  let env: Record<string, string>;
  beforeEach(() => {
    if (skip) return;
    t = new TestEnv("oci");
    img = buildImage(`${t.dir}/img`);
    env = { LXT_CACHE: `${t.dir}/cache` };
  });
  afterEach(async () => {
    if (!skip) await t.close();
  });
  afterAll(() => {});

  it("from an OCI layout: layers unpacked once with whiteouts, the image's entrypoint, env, workdir and user run; ten containers share the layers", () => {
    t.ok(["create", "-n", "a0", "-t", "oci", "--", "--url", `oci:${img.layout}:latest`], { env });
    const cfg = readFileSync(`${t.lxcpath}/a0/config`, "utf8");
    const layers = `${t.dir}/cache/oci/layers/sha256`;
    expect(cfg).toContain(`lxc.rootfs.path = overlay:${layers}/${img.layerDigests[1]!.slice(7)}:${layers}/${img.layerDigests[0]!.slice(7)}:${t.lxcpath}/a0/delta0`);
    expect(cfg).toContain("lxc.init.cwd = /work");
    expect(cfg).toContain("lxc.init.uid = 1000");
    const r = t.lxt(["execute", "-n", "a0"]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("hello from the image in /work as 1000\nnew\n"); // whiteout and opaque dir honoured
    for (let i = 1; i < 10; i++) t.ok(["create", "-n", `a${i}`, "-t", "oci", "--", "--url", `oci:${img.layout}:latest`], { env });
    expect(readdirSync(layers).sort()).toEqual(img.layerDigests.map((d) => d.slice(7)).sort()); // one copy for ten containers
    expect(t.lxt(["execute", "-n", "a9"]).stdout).toContain("hello from the image");
    for (let i = 0; i < 10; i++) t.ok(["destroy", "-n", `a${i}`]);
    expect(readdirSync(layers).length).toBe(2); // the shared layers stay in the store
    expect(t.lxt(["create", "-n", "b", "-t", "oci", "--", "--url", `oci:${img.layout}:v9`], { env }).stderr).toContain("no image tagged `v9`");
    expect(existsSync(`${t.lxcpath}/b`)).toBe(false);
  });

  it("from a docker archive", () => {
    t.ok(["create", "-n", "d", "-t", "oci", "--", "--url", `docker-archive:${img.archive}`], { env });
    expect(t.lxt(["execute", "-n", "d"]).stdout).toContain("hello from the image in /work as 1000");
    t.ok(["destroy", "-n", "d"]);
  });

  it("from a registry with a bearer-token challenge; a tampered blob is refused and nothing corrupt is stored", async () => {
    const { server, seen } = registry(img);
    try {
      const r = await lxtAsync(t, ["create", "-n", "r", "-t", "oci", "--", "--url", `docker://127.0.0.1:${server.port}/test/img:latest`], env);
      expect(r.stderr).not.toContain("Error");
      expect(r.code).toBe(0);
      expect(seen).toContain("/token");
      expect(t.lxt(["execute", "-n", "r"]).stdout).toContain("hello from the image");
      // a pull that finds blobs in the store (an earlier or interrupted pull) fetches only the manifest
      seen.length = 0;
      const again = await lxtAsync(t, ["create", "-n", "r2", "-t", "oci", "--", "--url", `docker://127.0.0.1:${server.port}/test/img:latest`], env);
      expect(again.code).toBe(0);
      expect(seen.filter((p) => p.includes("/blobs/"))).toEqual([]);
      expect(seen.some((p) => p.includes("/manifests/"))).toBe(true);
      t.ok(["destroy", "-n", "r2"]);
      t.ok(["destroy", "-n", "r"]);
    } finally {
      server.stop(true);
    }
    rmSync(`${t.dir}/cache`, { recursive: true, force: true });
    // an interrupted pull's leftover (its process gone) is cleared by the next pull of that blob
    mkdirSync(`${t.dir}/cache/oci/blobs/sha256`, { recursive: true });
    const stale = `${t.dir}/cache/oci/blobs/sha256/${img.layerDigests[1]!.slice(7)}.partial-999999999`;
    writeFileSync(stale, "half a layer");
    const bad = registry(img, { tamper: img.layerDigests[1] });
    try {
      const r = await lxtAsync(t, ["create", "-n", "x", "-t", "oci", "--", "--url", `docker://127.0.0.1:${bad.server.port}/test/img:latest`], env);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`blob ${img.layerDigests[1]} from docker://127.0.0.1:${bad.server.port}/test/img:latest is corrupt`);
      expect(existsSync(`${t.dir}/cache/oci/blobs/sha256/${img.layerDigests[1]!.slice(7)}`)).toBe(false);
      expect(existsSync(stale)).toBe(false);
      expect(readdirSync(`${t.dir}/cache/oci/blobs/sha256`).filter((f) => f.includes(".partial-"))).toEqual([]);
      expect(existsSync(`${t.lxcpath}/x`)).toBe(false);
    } finally {
      bad.server.stop(true);
    }
  });
});

const distSkip = skip ?? (Bun.spawnSync(["sh", "-c", "command -v docker-registry && command -v skopeo"]).exitCode === 0 ? undefined : "docker-registry and skopeo are not installed (scripts/setup installs them)");
if (distSkip && !skip) console.warn(`SKIP oci registry: ${distSkip}`);

/** Debian's docker-registry (the distribution registry), on loopback with its own storage; stopped by the returned function. */
async function distribution(dir: string): Promise<{ port: number; store: string; stop: () => Promise<void> }> {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  const store = `${dir}/registry`;
  mkdirSync(store, { recursive: true });
  writeFileSync(`${dir}/registry.yml`, `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${store}\nhttp:\n  addr: 127.0.0.1:${port}\n  secret: lxt-test\n`);
  const p = Bun.spawn(["docker-registry", "serve", `${dir}/registry.yml`], { stdout: "ignore", stderr: "ignore" });
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.ok, () => false);
    if (ok) break;
    await Bun.sleep(50);
  }
  return {
    port,
    store,
    stop: async () => {
      p.kill();
      await p.exited;
    },
  };
}

describe("oci images from Debian's docker-registry", () => {
  let t: TestEnv;
  beforeEach(() => {
    if (!distSkip) t = new TestEnv("reg");
  });
  afterEach(async () => {
    if (!distSkip) await t.close();
  });

  (distSkip ? test.skip : test)("pushed there by skopeo, pulled by lxt; an unknown tag (404) and a registry that does not answer are clear errors; a blob corrupted in the registry's storage is refused", async () => {
    const img = buildImage(`${t.dir}/img`);
    const env = { LXT_CACHE: `${t.dir}/cache` };
    const reg = await distribution(t.dir);
    try {
      const ref = `127.0.0.1:${reg.port}/lxt/img:1.0`;
      const push = Bun.spawnSync(["skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false", `oci:${img.layout}:latest`, `docker://${ref}`], { stdout: "pipe", stderr: "pipe" });
      expect(push.stderr.toString()).toBe("");
      expect(push.exitCode).toBe(0);
      const r = await lxtAsync(t, ["create", "-n", "r", "-t", "oci", "--", "--url", `docker://${ref}`], env);
      expect(r.stderr).not.toContain("rror");
      expect(r.code).toBe(0);
      const run = t.lxt(["execute", "-n", "r"]);
      expect(run.stdout).toContain("hello from the image in /work as 1000");
      expect(run.code).toBe(3);
      t.ok(["destroy", "-n", "r"]);

      const missing = await lxtAsync(t, ["create", "-n", "m", "-t", "oci", "--", "--url", `docker://127.0.0.1:${reg.port}/lxt/img:2.0`], env);
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toContain(`docker://127.0.0.1:${reg.port}/lxt/img:2.0: the registry has no such image or tag (HTTP 404`);
      expect(existsSync(`${t.lxcpath}/m`)).toBe(false);

      const dead = await lxtAsync(t, ["create", "-n", "m", "-t", "oci", "--", "--url", "docker://127.0.0.1:9/lxt/img:1.0"], env);
      expect(dead.stderr).toContain("registry 127.0.0.1:9 does not answer (ECONNREFUSED)");
      expect(existsSync(`${t.lxcpath}/m`)).toBe(false);

      // the registry serves what its storage holds: corrupt the second layer there
      const layer = img.layerDigests[1]!.slice(7);
      writeFileSync(`${reg.store}/docker/registry/v2/blobs/sha256/${layer.slice(0, 2)}/${layer}/data`, "not the layer");
      rmSync(`${t.dir}/cache`, { recursive: true, force: true });
      const bad = await lxtAsync(t, ["create", "-n", "x", "-t", "oci", "--", "--url", `docker://${ref}`], env);
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toContain(`blob ${img.layerDigests[1]} from docker://${ref} is corrupt`);
      expect(existsSync(`${t.dir}/cache/oci/blobs/sha256/${layer}`)).toBe(false);
      expect(existsSync(`${t.lxcpath}/x`)).toBe(false);
    } finally {
      await reg.stop();
    }
  });

  (skip ? test.skip : test)("a tarball that is not an image, and a missing layout, are clear errors", () => {
    const env = { LXT_CACHE: `${t.dir}/cache` };
    sh(`mkdir -p ${t.dir}/junk && echo hi > ${t.dir}/junk/hello && tar -C ${t.dir}/junk -cf ${t.dir}/junk.tar .`);
    const r = t.lxt(["create", "-n", "j", "-t", "oci", "--", "--url", `docker-archive:${t.dir}/junk.tar`], { env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${t.dir}/junk.tar`);
    expect(r.stderr).toMatch(/not a docker archive|manifest\.json/);
    const l = t.lxt(["create", "-n", "j", "-t", "oci", "--", "--url", `oci:${t.dir}/nolayout:latest`], { env });
    expect(l.code).not.toBe(0);
    expect(l.stderr).toContain(`${t.dir}/nolayout`);
    expect(existsSync(`${t.lxcpath}/j`)).toBe(false);
  });
});

describe("local images", () => {
  let t: TestEnv;
  beforeEach(() => {
    if (!skip) t = new TestEnv("img");
  });
  afterEach(async () => {
    if (!skip) await t.close();
  });

  it("image import (a rootfs tar or an lxt export), list, create -t local shares it, delete refuses while used, export", () => {
    const env = { LXT_CACHE: `${t.dir}/cache` };
    t.ok(["create", "-n", "src", "-t", "busybox"]);
    sh(`tar -C ${t.lxcpath}/src/rootfs -czf ${t.dir}/rootfs.tgz --numeric-owner .`);
    t.ok(["image", "import", `${t.dir}/rootfs.tgz`, "--alias", "bb"], { env });
    t.ok(["export", "-n", "src", `${t.dir}/src.tar`]);
    t.ok(["image", "import", `${t.dir}/src.tar`, "--alias", "bb-export"], { env });
    const list = t.ok(["image", "list"], { env });
    expect(list).toMatch(/^bb +sha256:/m);
    expect(list).toMatch(/^bb-export +sha256:/m);
    expect(t.lxt(["image", "import", `${t.dir}/rootfs.tgz`, "--alias", "bb"], { env }).stderr).toContain("an image with alias `bb` exists");
    for (const n of ["c1", "c2"]) t.ok(["create", "-n", n, "-t", "local", "--", "--alias", "bb"], { env });
    const lower = /overlay:([^:]+):/.exec(readFileSync(`${t.lxcpath}/c1/config`, "utf8"))![1];
    expect(readFileSync(`${t.lxcpath}/c2/config`, "utf8")).toContain(`overlay:${lower}:`);
    t.ok(["start", "-n", "c1"]);
    expect(t.ok(["attach", "-n", "c1", "--", "hostname"]).trim()).toBe("c1");
    t.ok(["stop", "-n", "c1", "-k"]);
    expect(t.lxt(["image", "delete", "bb"], { env }).stderr).toContain("is in use by c1, c2");
    t.ok(["image", "export", "bb", `${t.dir}/out.tar`], { env });
    expect(sh2(`tar -tf ${t.dir}/out.tar`)).toContain("./bin/busybox");
    for (const n of ["c1", "c2", "src"]) t.ok(["destroy", "-n", n]);
    t.ok(["image", "delete", "bb"], { env });
    t.ok(["image", "delete", "bb-export"], { env });
    expect(t.ok(["image", "list"], { env }).trim().split("\n").length).toBe(1);
    expect(t.lxt(["create", "-n", "z", "-t", "local", "--", "--alias", "nope"], { env }).stderr).toContain("no image with alias `nope`");
  });
});

function sh2(cmd: string): string {
  return Bun.spawnSync(["sh", "-c", cmd], { stdout: "pipe" }).stdout.toString();
}
