// Images side by side (npm run bench:images):
//  - OCI pull + unpack from a registry on loopback (Debian's docker-registry,
//    started here with its own storage): `lxt create -t oci` with an empty
//    cache beside `skopeo copy` + `umoci unpack` of the same image; throughput
//    is the image's compressed size over the wall time; runs alternate.
//  - debian: `lxt create -t debian` first (debootstrap into an empty cache)
//    and second (from the cache), beside `lxc-create -t debian` first and
//    second (LXC's own cache under a private LXC cache dir); --no-debian skips.
//
//   bun bench/images.ts [--runs N] [--no-debian] [--no-lxc] [--json]
//
// The image: one gzip layer of this host's /usr/share/doc and /usr/share/man
// (many small files, the kind of tree images are made of) plus busybox.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const LXT = `${ROOT}/dist/lxt`;
const args = process.argv.slice(2);
const RUNS = Number(args[args.indexOf("--runs") + 1] || 0) || 3;
const DEBIAN = !args.includes("--no-debian");
const LXC = !args.includes("--no-lxc");
const JSON_OUT = args.includes("--json");

const dir = mkdtempSync("/tmp/lxt-bench-img-");
const env = { ...process.env, LXT_RUNDIR: `${dir}/run`, LXT_DEFAULT_CONFIG: `${dir}/none.conf` } as Record<string, string>;

function sh(argv: string[], extra: Record<string, string> = {}): string {
  const p = Bun.spawnSync(argv, { env: { ...env, ...extra }, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  if (p.exitCode !== 0) throw new Error(`${argv.join(" ")} exited ${p.exitCode}: ${p.stderr.toString().trim().slice(-2000)}`);
  return p.stdout.toString();
}
function time(argv: string[], extra: Record<string, string> = {}): number {
  const t = performance.now();
  sh(argv, extra);
  return performance.now() - t;
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const sha = (b: Uint8Array | string) => new Bun.CryptoHasher("sha256").update(b).digest("hex");

/** An OCI layout with one gzip layer of /usr/share + busybox. */
function buildImage(): { layout: string; bytes: number } {
  const l = `${dir}/layer`;
  mkdirSync(`${l}/usr/share`, { recursive: true });
  mkdirSync(`${l}/bin`, { recursive: true });
  for (const d of ["doc", "man"]) sh(["sh", "-c", `test ! -d /usr/share/${d} || cp -a /usr/share/${d} ${l}/usr/share/${d}`]);
  sh(["cp", "/bin/busybox", `${l}/bin/busybox`]);
  sh(["tar", "-C", l, "-cf", `${dir}/layer.tar`, "."]);
  const diffId = `sha256:${sha(readFileSync(`${dir}/layer.tar`))}`;
  sh(["sh", "-c", `gzip -1 < ${dir}/layer.tar > ${dir}/layer.tgz && rm ${dir}/layer.tar`]);
  const layout = `${dir}/layout`;
  mkdirSync(`${layout}/blobs/sha256`, { recursive: true });
  const put = (b: Uint8Array | string) => {
    const bytes = typeof b === "string" ? new TextEncoder().encode(b) : b;
    const d = sha(bytes);
    writeFileSync(`${layout}/blobs/sha256/${d}`, bytes);
    return { digest: `sha256:${d}`, size: bytes.length };
  };
  const layer = { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...put(readFileSync(`${dir}/layer.tgz`)) };
  const config = put(JSON.stringify({ architecture: "amd64", os: "linux", config: { Cmd: ["/bin/busybox", "true"] }, rootfs: { type: "layers", diff_ids: [diffId] } }));
  const man = put(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config }, layers: [layer] }));
  writeFileSync(`${layout}/oci-layout`, '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(`${layout}/index.json`, JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", ...man, annotations: { "org.opencontainers.image.ref.name": "latest" } }] }));
  rmSync(l, { recursive: true, force: true });
  return { layout, bytes: layer.size };
}

interface Row {
  op: string;
  lxt: number;
  peer: string;
  peerVal: number;
  unit: string;
  /** a throughput row: bigger is better */
  higher?: boolean;
}

let registry: ReturnType<typeof Bun.spawn> | undefined;

async function main(): Promise<void> {
  const rows: Row[] = [];
  const img = buildImage();
  const port = 15000 + (process.pid % 1000);
  mkdirSync(`${dir}/registry`);
  writeFileSync(`${dir}/registry.yml`, `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/registry\nhttp:\n  addr: 127.0.0.1:${port}\n  secret: bench\n`);
  registry = Bun.spawn(["docker-registry", "serve", `${dir}/registry.yml`], { stdout: "ignore", stderr: "ignore" });
  for (let i = 0; i < 100 && !(await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.ok, () => false)); i++) await Bun.sleep(50);
  const ref = `127.0.0.1:${port}/bench/usrshare:1`;
  sh(["skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false", `oci:${img.layout}:latest`, `docker://${ref}`]);

  const lxtMs: number[] = [];
  const peerMs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    rmSync(`${dir}/cache`, { recursive: true, force: true });
    lxtMs.push(time([LXT, "create", "-P", `${dir}/lxt`, "-n", "o", "-t", "oci", "--", "--url", `docker://${ref}`], { LXT_CACHE: `${dir}/cache` }));
    sh([LXT, "destroy", "-P", `${dir}/lxt`, "-n", "o"], { LXT_CACHE: `${dir}/cache` });
    rmSync(`${dir}/skopeo`, { recursive: true, force: true });
    rmSync(`${dir}/bundle`, { recursive: true, force: true });
    const t0 = performance.now();
    sh(["skopeo", "--insecure-policy", "copy", "--src-tls-verify=false", `docker://${ref}`, `oci:${dir}/skopeo:latest`]);
    sh(["umoci", "unpack", "--image", `${dir}/skopeo:latest`, `${dir}/bundle`]);
    peerMs.push(performance.now() - t0);
  }
  const mib = img.bytes / 1048576;
  rows.push({ op: `pull+unpack ${mib.toFixed(0)} MiB`, lxt: median(lxtMs) / 1000, peer: "skopeo+umoci", peerVal: median(peerMs) / 1000, unit: "s" });
  rows.push({ op: "pull+unpack rate", lxt: mib / (median(lxtMs) / 1000), peer: "skopeo+umoci", peerVal: mib / (median(peerMs) / 1000), unit: "MiB/s", higher: true });

  if (DEBIAN) {
    const cache = { LXT_CACHE: `${dir}/debcache` };
    const first = time([LXT, "create", "-P", `${dir}/lxt`, "-n", "d1", "-t", "debian"], cache);
    const second = time([LXT, "create", "-P", `${dir}/lxt`, "-n", "d2", "-t", "debian"], cache);
    for (const n of ["d1", "d2"]) sh([LXT, "destroy", "-P", `${dir}/lxt`, "-n", n]);
    if (LXC) {
      // lxc-create's debian template caches in LXC_CACHE_PATH
      const lc = { LXC_CACHE_PATH: `${dir}/lxccache` };
      const lfirst = time(["lxc-create", "-P", `${dir}/lxc`, "-n", "d1", "-t", "debian", "--", "-r", "bookworm"], lc);
      const lsecond = time(["lxc-create", "-P", `${dir}/lxc`, "-n", "d2", "-t", "debian", "--", "-r", "bookworm"], lc);
      for (const n of ["d1", "d2"]) sh(["lxc-destroy", "-P", `${dir}/lxc`, "-n", n]);
      rows.push({ op: "debian create, first", lxt: first / 1000, peer: "lxc-create", peerVal: lfirst / 1000, unit: "s" });
      rows.push({ op: "debian create, cached", lxt: second / 1000, peer: "lxc-create", peerVal: lsecond / 1000, unit: "s" });
    } else {
      rows.push({ op: "debian create, first", lxt: first / 1000, peer: "-", peerVal: NaN, unit: "s" });
      rows.push({ op: "debian create, cached", lxt: second / 1000, peer: "-", peerVal: NaN, unit: "s" });
    }
  }
  report(rows, img.bytes);
}

function report(rows: Row[], bytes: number): void {
  if (JSON_OUT) {
    console.log(JSON.stringify({ runs: RUNS, imageBytes: bytes, rows: rows.map((r) => ({ ...r, ratio: r.lxt / r.peerVal })) }, null, 2));
    return;
  }
  console.log(`lxt vs peers, images: medians of ${RUNS} pulls (debian: one first and one cached create each), ${new Date().toISOString()}`);
  console.log(`${"operation".padEnd(24)}${"lxt".padStart(12)}  ${"peer".padEnd(14)}${"peer".padStart(12)}  ${"lxt/peer".padStart(8)}`);
  for (const r of rows) {
    const f = (n: number) => (Number.isNaN(n) ? "-" : `${n.toFixed(2)} ${r.unit}`);
    const ratio = r.lxt / r.peerVal;
    console.log(`${r.op.padEnd(24)}${f(r.lxt).padStart(12)}  ${r.peer.padEnd(14)}${f(r.peerVal).padStart(12)}  ${(Number.isNaN(ratio) ? "" : ratio.toFixed(2)).padStart(8)}${r.higher ? "  (higher is better)" : ""}`);
  }
}

function cleanupAll(): void {
  registry?.kill();
  for (const n of ["o", "d1", "d2"]) Bun.spawnSync([LXT, "destroy", "-P", `${dir}/lxt`, "-n", n, "-f"], { env, stdout: "ignore", stderr: "ignore" });
  for (const n of ["d1", "d2"]) Bun.spawnSync(["lxc-destroy", "-P", `${dir}/lxc`, "-n", n, "-f"], { env, stdout: "ignore", stderr: "ignore" });
  rmSync(dir, { recursive: true, force: true });
}

process.on("SIGINT", () => {
  cleanupAll();
  process.exit(130);
});
try {
  await main();
} catch (e) {
  console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
} finally {
  cleanupAll();
}

