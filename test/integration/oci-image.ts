// A two-layer busybox image made by the tests (layer 2 with a whiteout and an
// opaque directory), as an OCI layout and a docker archive.
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";

export function sh(cmd: string): void {
  const p = Bun.spawnSync(["sh", "-c", cmd], { stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${cmd}: ${p.stderr.toString()}`);
}
export const sha = (b: Uint8Array | string) => new Bun.CryptoHasher("sha256").update(b).digest("hex");

export interface Image {
  layout: string;
  blobs: Map<string, Uint8Array>;
  manifest: Uint8Array;
  manifestDigest: string;
  archive: string;
  layerDigests: string[];
}

/** Builds the image in `dir`: layer 1 busybox + etc files, layer 2 removes one file and replaces a dir's contents. */
export function buildImage(dir: string): Image {
  const l1 = `${dir}/l1`;
  mkdirSync(`${l1}/bin`, { recursive: true });
  mkdirSync(`${l1}/etc/conf.d`, { recursive: true });
  sh(`cp /bin/busybox ${l1}/bin/busybox`);
  for (const a of ["sh", "cat", "ls", "echo", "test", "id", "pwd"]) symlinkSync("busybox", `${l1}/bin/${a}`);
  writeFileSync(`${l1}/etc/removed`, "gone in layer 2\n");
  writeFileSync(`${l1}/etc/conf.d/old`, "old\n");
  writeFileSync(`${l1}/etc/passwd`, "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/work:/bin/sh\n");
  writeFileSync(`${l1}/etc/group`, "root:x:0:\napp:x:1000:\n");
  const l2 = `${dir}/l2`;
  mkdirSync(`${l2}/etc/conf.d`, { recursive: true });
  mkdirSync(`${l2}/work`, { recursive: true });
  writeFileSync(`${l2}/etc/.wh.removed`, "");
  writeFileSync(`${l2}/etc/conf.d/.wh..wh..opq`, "");
  writeFileSync(`${l2}/etc/conf.d/new`, "new\n");
  sh(`tar -C ${l1} -czf ${dir}/l1.tgz --numeric-owner . && tar -C ${l2} -czf ${dir}/l2.tgz --numeric-owner .`);
  const blobs = new Map<string, Uint8Array>();
  const add = (b: Uint8Array | string) => {
    const bytes = typeof b === "string" ? new TextEncoder().encode(b) : b;
    const d = `sha256:${sha(bytes)}`;
    blobs.set(d, bytes);
    return { digest: d, size: bytes.length };
  };
  const layers = [readFileSync(`${dir}/l1.tgz`), readFileSync(`${dir}/l2.tgz`)].map((b) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...add(b) }));
  const config = add(JSON.stringify({ architecture: "amd64", os: "linux", config: { Entrypoint: ["/bin/sh", "-c"], Cmd: ['echo "hello from $GREETING in $(pwd) as $(id -u)"; test ! -e /etc/removed && ls /etc/conf.d; exit 3'], Env: ["GREETING=the image", "PATH=/bin"], WorkingDir: "/work", User: "app" }, rootfs: { type: "layers", diff_ids: [] } }));
  const manifest = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config }, layers }));
  const md = add(manifest);
  const layout = `${dir}/layout`;
  mkdirSync(`${layout}/blobs/sha256`, { recursive: true });
  for (const [d, b] of blobs) writeFileSync(`${layout}/blobs/sha256/${d.slice(7)}`, b);
  writeFileSync(`${layout}/oci-layout`, '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(`${layout}/index.json`, JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", ...md, annotations: { "org.opencontainers.image.ref.name": "latest" } }] }));
  // docker save format: manifest.json naming the config and layer tars
  const arch = `${dir}/archive`;
  mkdirSync(arch);
  writeFileSync(`${arch}/config.json`, blobs.get(config.digest)!);
  sh(`gunzip -c ${dir}/l1.tgz > ${arch}/l1.tar && gunzip -c ${dir}/l2.tgz > ${arch}/l2.tar`);
  writeFileSync(`${arch}/manifest.json`, JSON.stringify([{ Config: "config.json", RepoTags: ["test/img:latest"], Layers: ["l1.tar", "l2.tar"] }]));
  sh(`tar -C ${arch} -cf ${dir}/image.tar .`);
  return { layout, blobs, manifest, manifestDigest: md.digest, archive: `${dir}/image.tar`, layerDigests: layers.map((l) => l.digest) };
}
