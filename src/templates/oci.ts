// The oci template (like LXC's lxc-oci): a container from an OCI or Docker
// image, its layers unpacked once into a content-addressed store and stacked
// as overlay lower layers, so containers from one image share one copy.
//   lxt create -n app -t oci -- --url oci:DIR[:TAG]             an OCI image layout
//                                --url docker-archive:FILE        a `docker save` tarball
//                                --url docker://HOST[:PORT]/NAME[:TAG]   a registry (HTTP API v2)
// Store (LXT_CACHE, default /var/cache/lxt): oci/blobs/sha256/HEX (verified
// against their digest before they are kept), oci/layers/sha256/HEX/ (unpacked;
// whiteouts become overlay whiteouts). The image config becomes
// lxc.execute.cmd / lxc.init.cmd, lxc.environment, lxc.init.cwd, lxc.init.uid/gid.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { LxtError } from "../util/errors.ts";
import { run } from "../util/exec.ts";
import { Progress } from "../util/progress.ts";
import type { Template } from "./index.ts";

const MT = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
};

interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
  platform?: { os?: string; architecture?: string };
  annotations?: Record<string, string>;
}
interface Manifest {
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  manifests?: Descriptor[];
}
interface ImageConfig {
  config?: { Entrypoint?: string[] | null; Cmd?: string[] | null; Env?: string[] | null; WorkingDir?: string; User?: string };
}

/** Where blobs come from: a layout dir, an unpacked docker archive, or a registry. */
interface Source {
  manifest(): Promise<Manifest>;
  /** a blob's bytes written to `to`, each chunk counted on `bar`; returns their sha256 digest (the caller verifies it) */
  fetch(d: Descriptor, to: string, bar: Progress): Promise<string>;
  /** docker archives name layers by path and have no digest for them until hashed */
  describe: string;
}

/** LXT_CACHE, else /var/cache/lxt for root and ~/.cache/lxt for an ordinary user (whose containers' layers are its own). */
export function cacheRoot(): string {
  if (process.env.LXT_CACHE) return process.env.LXT_CACHE;
  return (process.getuid?.() ?? 0) === 0 ? "/var/cache/lxt" : `${process.env.HOME ?? `/tmp/lxt-${process.getuid!()}`}/.cache/lxt`;
}

export function store(): string {
  return `${cacheRoot()}/oci`;
}

const hex = (digest: string) => {
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (!m) throw new LxtError(`unsupported digest \`${digest}\``, "only sha256 digests are supported");
  return m[1]!;
};

const hostPlatform = () => ({ os: "linux", architecture: process.arch === "x64" ? "amd64" : process.arch === "arm64" ? "arm64" : process.arch });

function pickPlatform(list: Descriptor[], what: string): Descriptor {
  const p = hostPlatform();
  const d = list.find((m) => m.platform?.os === p.os && m.platform?.architecture === p.architecture) ?? (list.length === 1 && !list[0]!.platform ? list[0] : undefined);
  if (!d) throw new LxtError(`${what} has no image for ${p.os}/${p.architecture}`, `it has: ${list.map((m) => `${m.platform?.os}/${m.platform?.architecture}`).join(", ")}`);
  return d;
}

export async function sha256File(path: string): Promise<string> {
  const h = new Bun.CryptoHasher("sha256");
  const reader = Bun.file(path).stream().getReader();
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    h.update(r.value);
  }
  return `sha256:${h.digest("hex")}`;
}

function progress(msg: string): void {
  process.stderr.write(`oci: ${msg}\n`);
}

/** Streams `body` into `to`, counting on `bar` and hashing as it goes; returns the sha256 digest. */
async function streamTo(body: ReadableStream<Uint8Array>, to: string, bar: Progress): Promise<string> {
  const h = new Bun.CryptoHasher("sha256");
  const w = Bun.file(to).writer();
  try {
    for await (const chunk of body) {
      h.update(chunk);
      w.write(chunk);
      bar.add(chunk.length);
    }
  } finally {
    await w.end();
  }
  return `sha256:${h.digest("hex")}`;
}

/** Puts a blob in the store, verified; a corrupt one is an error and is not kept. */
async function getBlob(src: Source, d: Descriptor): Promise<string> {
  const path = `${store()}/blobs/sha256/${hex(d.digest)}`;
  if (existsSync(path)) return path; // a resumed pull reuses what it has
  mkdirSync(`${store()}/blobs/sha256`, { recursive: true });
  const tmp = `${path}.partial-${process.pid}`;
  // what an interrupted pull left of this blob goes (its process is gone)
  for (const f of readdirSync(`${store()}/blobs/sha256`)) {
    const m = /\.partial-(\d+)$/.exec(f);
    if (m && f.startsWith(hex(d.digest)) && !existsSync(`/proc/${m[1]}`)) rmSync(`${store()}/blobs/sha256/${f}`, { force: true });
  }
  try {
    const bar = new Progress(`oci: fetching ${d.digest.slice(0, 19)}`, d.size);
    const got = await src.fetch(d, tmp, bar); // hashed as it was written
    if (got !== d.digest) {
      bar.finish("corrupt");
      throw new LxtError(`blob ${d.digest} from ${src.describe} is corrupt: its content hashes to ${got}`, "the image source is damaged or tampered with; nothing was stored");
    }
    bar.finish();
    renameSync(tmp, path);
    return path;
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** Turns OCI whiteouts into overlay's: .wh.NAME -> a 0/0 char device NAME; .wh..wh..opq -> trusted.overlay.opaque on the dir. */
function convertWhiteouts(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    if (e.name === ".wh..wh..opq") {
      rmSync(p, { force: true });
      const r = run(["setfattr", "-n", "trusted.overlay.opaque", "-v", "y", dir], { allowFail: true });
      if (r.status !== 0) throw new LxtError(`cannot mark ${dir} opaque: ${r.stderr.trim()}`, "install the attr package (setfattr)");
    } else if (e.name.startsWith(".wh.")) {
      rmSync(p, { force: true });
      const target = `${dir}/${e.name.slice(4)}`;
      rmSync(target, { recursive: true, force: true });
      run(["mknod", target, "c", "0", "0"]);
    } else if (e.isDirectory()) convertWhiteouts(p);
  }
}

/** The unpacked layer dir (made once per digest, atomically); the blob is streamed into tar, its progress shown. */
export async function unpackLayer(blob: string, d: Descriptor): Promise<string> {
  const out = `${store()}/layers/sha256/${hex(d.digest)}`;
  if (existsSync(out)) return out;
  mkdirSync(`${store()}/layers/sha256`, { recursive: true });
  const tmp = `${out}.partial-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    const mt = d.mediaType ?? "";
    const z = mt.endsWith("+zstd") ? ["--zstd"] : mt.endsWith("gzip") || mt.endsWith(".gzip") || mt.endsWith("tar.gzip") ? ["-z"] : isGzip(blob) ? ["-z"] : [];
    if ((process.getuid?.() ?? 0) !== 0) {
      await userUnpack(blob, tmp, z, d.digest);
      renameSync(tmp, out);
      return out;
    }
    const bar = new Progress(`oci: unpacking ${d.digest.slice(0, 19)}`, statSync(blob).size);
    const tar = Bun.spawn(["tar", "-x", ...z, "-f", "-", "-C", tmp, "--numeric-owner", "-p", "--xattrs", "--xattrs-include=*"], { stdin: "pipe", stdout: "ignore", stderr: "pipe" });
    const errText = new Response(tar.stderr).text();
    try {
      for await (const chunk of Bun.file(blob).stream()) {
        tar.stdin.write(chunk);
        await tar.stdin.flush();
        bar.add(chunk.length);
      }
      await tar.stdin.end();
    } catch {
      // tar stopped reading: its status and message below say why
    }
    if ((await tar.exited) !== 0) {
      bar.finish("failed");
      throw new LxtError(`unpacking layer ${d.digest}: ${(await errText).trim()}`);
    }
    bar.finish();
    convertWhiteouts(tmp);
    renameSync(tmp, out);
    return out;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * An ordinary user's layer: unpacked as its containers' root (a user
 * namespace with their view of the ids), so the layer's owner k is the
 * container's k, and its whiteouts made for the overlay mounted there
 * (userxattr): a 0/0 char device, user.overlay.opaque.
 */
const USER_UNPACK = `set -e
blob=$1; dir=$2; shift 2
tar -x "$@" -f "$blob" -C "$dir" --numeric-owner -p --xattrs --xattrs-include='user.*' --xattrs-include=security.capability
find "$dir" -name '.wh..wh..opq' | while IFS= read -r f; do d=$(dirname "$f"); rm -f "$f"; setfattr -n user.overlay.opaque -v y "$d"; done
find "$dir" -name '.wh.*' | while IFS= read -r f; do t="$(dirname "$f")/$(basename "$f" | sed 's/^\\.wh\\.//')"; rm -f "$f"; rm -rf "$t"; mknod "$t" c 0 0; done
`;

async function userUnpack(blob: string, tmp: string, z: string[], digest: string): Promise<void> {
  const bar = new Progress(`oci: unpacking ${digest.slice(0, 19)}`, statSync(blob).size);
  const { asContainerRoot, asSubidRoot } = await import("../container/create.ts");
  try {
    asContainerRoot(["sh", "-c", USER_UNPACK, "sh", blob, tmp, ...z], `unpacking layer ${digest}`);
  } catch (e) {
    bar.finish("failed");
    // what was unpacked belongs to the subordinate ids: removed from the namespace too
    try {
      asSubidRoot(["rm", "-rf", tmp], `remove ${tmp}`);
    } catch {
      // the caller's rmSync reports what is left
    }
    throw e;
  }
  bar.add(statSync(blob).size);
  bar.finish();
}

function isGzip(path: string): boolean {
  const b = readFileSync(path).subarray(0, 2);
  return b[0] === 0x1f && b[1] === 0x8b;
}

function layoutSource(dir: string, tag: string | undefined): Source {
  if (!existsSync(`${dir}/index.json`)) throw new LxtError(`\`${dir}\` is not an OCI image layout (no index.json)`);
  const blob = (d: Descriptor) => `${dir}/blobs/sha256/${hex(d.digest)}`;
  const json = <T>(d: Descriptor): T => JSON.parse(readFileSync(blob(d), "utf8")) as T;
  return {
    describe: `the layout ${dir}`,
    async manifest() {
      const index = JSON.parse(readFileSync(`${dir}/index.json`, "utf8")) as { manifests: Descriptor[] };
      const named = tag ? index.manifests.filter((m) => m.annotations?.["org.opencontainers.image.ref.name"] === tag) : index.manifests;
      if (!named.length) throw new LxtError(`no image tagged \`${tag}\` in ${dir}`, `tags: ${index.manifests.map((m) => m.annotations?.["org.opencontainers.image.ref.name"] ?? "(none)").join(", ")}`);
      let d = named.length === 1 ? named[0]! : pickPlatform(named, dir);
      if (d.mediaType === MT.ociIndex) d = pickPlatform(json<Manifest>(d).manifests ?? [], dir);
      return json<Manifest>(d);
    },
    async fetch(d, to, bar) {
      if (!existsSync(blob(d))) throw new LxtError(`blob ${d.digest} is missing from ${dir}`);
      return await streamTo(Bun.file(blob(d)).stream(), to, bar);
    },
  };
}

function archiveSource(file: string): { src: Source; cleanup: () => void } {
  if (!existsSync(file)) throw new LxtError(`docker archive \`${file}\` does not exist`);
  const tmp = mkdtempSync("/tmp/lxt-oci-archive-");
  const r = run(["tar", "-x", "-f", file, "-C", tmp], { allowFail: true });
  if (r.status !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    throw new LxtError(`\`${file}\` is not a tar archive: ${r.stderr.trim()}`);
  }
  const paths = new Map<string, string>();
  const src: Source = {
    describe: `the archive ${file}`,
    async manifest() {
      if (!existsSync(`${tmp}/manifest.json`)) throw new LxtError(`\`${file}\` is not a docker archive (no manifest.json)`);
      const [m] = JSON.parse(readFileSync(`${tmp}/manifest.json`, "utf8")) as Array<{ Config: string; Layers: string[] }>;
      if (!m) throw new LxtError(`\`${file}\`: its manifest.json lists no image`);
      // docker archives carry no digests for the layer tars: they are their own content hashes
      const desc = async (p: string): Promise<Descriptor> => {
        const digest = await sha256File(`${tmp}/${p}`);
        paths.set(digest, `${tmp}/${p}`);
        return { digest, size: statSync(`${tmp}/${p}`).size, mediaType: "application/vnd.docker.image.rootfs.diff.tar" };
      };
      return { config: await desc(m.Config), layers: await Promise.all(m.Layers.map(desc)) };
    },
    async fetch(d, to, bar) {
      return await streamTo(Bun.file(paths.get(d.digest)!).stream(), to, bar);
    },
  };
  return { src, cleanup: () => rmSync(tmp, { recursive: true, force: true }) };
}

function registrySource(ref: string): Source {
  const m = /^([^/]+)\/(.+?)(?::([\w][\w.-]{0,127}))?(?:@(sha256:[0-9a-f]{64}))?$/.exec(ref);
  if (!m) throw new LxtError(`invalid image reference \`docker://${ref}\``, "write docker://HOST[:PORT]/NAME[:TAG]");
  const [, host, name, tag, pinned] = m;
  const local = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/.test(host!);
  const base = `${local ? "http" : "https"}://${host}/v2/${name}`;
  let token: string | undefined;
  const request = async (url: string, init?: RequestInit): Promise<Response> => {
    try {
      return await fetch(url, init);
    } catch (e) {
      throw new LxtError(`registry ${new URL(url).host} does not answer (${errText(e)})`, `check the host and port in docker://${ref} and that the registry runs`);
    }
  };
  const get = async (url: string, accept?: string): Promise<Response> => {
    const headers: Record<string, string> = {};
    if (accept) headers.Accept = accept;
    if (token) headers.Authorization = `Bearer ${token}`;
    let res = await request(url, { headers, redirect: "follow" });
    if (res.status === 401 && !token) {
      const ch = res.headers.get("www-authenticate") ?? "";
      const kv = Object.fromEntries([...ch.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
      if (!/^Bearer/i.test(ch) || !kv.realm) throw new LxtError(`${host} asks for authentication lxt cannot give (${ch || "no challenge"})`);
      const q = new URLSearchParams();
      if (kv.service) q.set("service", kv.service);
      q.set("scope", kv.scope ?? `repository:${name}:pull`);
      const t = await request(`${kv.realm}?${q}`);
      if (!t.ok) throw new LxtError(`token from ${kv.realm}: HTTP ${t.status}`);
      const j = (await t.json()) as { token?: string; access_token?: string };
      token = j.token ?? j.access_token;
      headers.Authorization = `Bearer ${token}`;
      res = await request(url, { headers, redirect: "follow" });
    }
    if (res.status === 404 && url.includes("/manifests/")) throw new LxtError(`docker://${ref}: the registry has no such image or tag (HTTP 404 for ${url})`, "check the image name and tag");
    if (!res.ok) throw new LxtError(`${url}: HTTP ${res.status}`, res.status === 404 ? "check the image name and tag" : undefined);
    return res;
  };
  return {
    describe: `docker://${ref}`,
    async manifest() {
      const accept = [MT.ociIndex, MT.ociManifest, MT.dockerList, MT.dockerManifest].join(", ");
      let man = (await (await get(`${base}/manifests/${pinned ?? tag ?? "latest"}`, accept)).json()) as Manifest;
      if (man.manifests) {
        const d = pickPlatform(man.manifests, `docker://${ref}`);
        man = (await (await get(`${base}/manifests/${d.digest}`, accept)).json()) as Manifest;
      }
      if (!man.config || !man.layers) throw new LxtError(`docker://${ref}: not an image manifest`);
      return man;
    },
    async fetch(d, to, bar) {
      const res = await get(`${base}/blobs/${d.digest}`);
      if (!res.body) throw new LxtError(`${base}/blobs/${d.digest}: an empty answer`);
      return await streamTo(res.body, to, bar);
    },
  };
}

const errText = (e: unknown) => (e instanceof Error ? (e as NodeJS.ErrnoException).code ?? e.message : String(e));

/** lxc.init.cmd is split on blanks with '...' and "..." quoting (no backslashes): quote what needs it. */
export function joinCommand(argv: string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'"'"'`)}'`)).join(" ");
}

function uidOf(user: string, lowers: string[], file: "passwd" | "group"): number | undefined {
  if (/^\d+$/.test(user)) return Number(user);
  for (const l of lowers) {
    const p = `${l}/etc/${file}`;
    if (!existsSync(p)) continue;
    const line = readFileSync(p, "utf8").split("\n").find((x) => x.split(":")[0] === user);
    if (line) return Number(line.split(":")[2]); // uid in passwd, gid in group
  }
  return undefined;
}

export const oci: Template = {
  name: "oci",
  async create({ name, path, args }) {
    let url: string | undefined;
    for (let i = 0; i < args.length; i++) {
      const [k, v] = args[i]!.split(/=(.*)/s);
      if (k === "--url" || k === "-u") url = v ?? args[++i];
      else throw new LxtError(`oci template: unknown option \`${args[i]}\``, "use --url oci:DIR[:TAG] | docker-archive:FILE | docker://HOST/NAME[:TAG]");
    }
    if (!url) throw new LxtError("oci template: --url is required", "e.g. -- --url docker://registry.example:5000/app:1.0");
    let cleanup = () => {};
    let src: Source;
    if (url.startsWith("oci:")) {
      const rest = url.slice(4);
      const i = rest.lastIndexOf(":");
      src = i > 0 && !rest.slice(i + 1).includes("/") ? layoutSource(rest.slice(0, i), rest.slice(i + 1)) : layoutSource(rest, undefined);
    } else if (url.startsWith("docker-archive:")) ({ src, cleanup } = archiveSource(url.slice(15)));
    else if (url.startsWith("docker://")) src = registrySource(url.slice(9));
    else throw new LxtError(`oci template: unsupported --url \`${url}\``, "use oci:DIR[:TAG], docker-archive:FILE or docker://HOST[:PORT]/NAME[:TAG]");
    try {
      const man = await src.manifest();
      const cfg = JSON.parse(readFileSync(await getBlob(src, man.config), "utf8")) as ImageConfig;
      const layers: string[] = [];
      for (const l of man.layers) layers.push(await unpackLayer(await getBlob(src, l), l));
      const lowers = [...layers].reverse(); // the top layer first, as overlay's lowerdir wants
      mkdirSync(`${path}/delta0`, { recursive: true });
      const c = cfg.config ?? {};
      const argv = [...(c.Entrypoint ?? []), ...(c.Cmd ?? [])];
      if (!argv.length) throw new LxtError(`the image has neither Entrypoint nor Cmd`, "give the container a command with lxc.init.cmd / lxc.execute.cmd");
      const keys: Array<[string, string]> = [
        ["lxc.rootfs.path", `overlay:${lowers.join(":")}:${path}/delta0`],
        ["lxc.uts.name", name],
        ["lxc.execute.cmd", joinCommand(argv)],
        ["lxc.init.cmd", joinCommand(argv)],
        ["lxc.mount.auto", "proc:mixed sys:mixed cgroup:mixed"],
        ["lxc.autodev", "1"],
      ];
      for (const e of c.Env ?? []) keys.push(["lxc.environment", e]);
      if (c.WorkingDir) keys.push(["lxc.init.cwd", c.WorkingDir]);
      if (c.User) {
        const [u, g] = c.User.split(":");
        const uid = uidOf(u!, lowers, "passwd");
        const gid = g !== undefined ? uidOf(g, lowers, "group") : uid;
        if (uid === undefined || gid === undefined) throw new LxtError(`the image's User \`${c.User}\` is not in its /etc/passwd or /etc/group`);
        keys.push(["lxc.init.uid", String(uid)], ["lxc.init.gid", String(gid)]);
      }
      writeFileSync(`${path}/oci-image`, `${url}\n${man.config.digest}\n`);
      progress(`${url}: ${layers.length} layer(s), shared in ${store()}/layers`);
      return keys;
    } finally {
      cleanup();
    }
  },
};
