// The local image store: rootfs tarballs imported once under an alias and
// shared by the containers made from them (overlay lowers), like the OCI
// layers (same store: LXT_CACHE/oci/blobs and layers; aliases in images.json).
//   lxt image import TARBALL --alias A     (a rootfs tar, or an lxt export)
//   lxt image list | delete A | export A FILE
//   lxt create -n c -t local -- --alias A
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { LxtError, NotFoundError } from "../util/errors.ts";
import { run } from "../util/exec.ts";
import type { Template } from "./index.ts";
import { sha256File, store, unpackLayer } from "./oci.ts";

export interface ImageEntry {
  alias: string;
  digest: string;
  size: number;
  created: string;
  source: string;
}

const registry = () => `${store()}/images.json`;

export function listImages(): ImageEntry[] {
  try {
    return JSON.parse(readFileSync(registry(), "utf8")) as ImageEntry[];
  } catch {
    return [];
  }
}

function save(list: ImageEntry[]): void {
  mkdirSync(store(), { recursive: true });
  writeFileSync(`${registry()}.tmp`, JSON.stringify(list, null, 2));
  renameSync(`${registry()}.tmp`, registry());
}

const layerDir = (digest: string) => `${store()}/layers/sha256/${digest.slice(7)}`;

export async function importImage(tarball: string, alias: string): Promise<ImageEntry> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]*$/.test(alias)) throw new LxtError(`invalid alias \`${alias}\``, "letters, digits and . _ : -");
  if (!existsSync(tarball)) throw new NotFoundError(`\`${tarball}\` does not exist`);
  const list = listImages();
  if (list.some((i) => i.alias === alias)) throw new LxtError(`an image with alias \`${alias}\` exists`, `lxt image delete ${alias} first`);
  const digest = await sha256File(tarball);
  const blob = `${store()}/blobs/sha256/${digest.slice(7)}`;
  mkdirSync(`${store()}/blobs/sha256`, { recursive: true });
  if (!existsSync(blob)) run(["cp", tarball, blob]);
  // an lxt export carries its rootfs under rootfs/: unpack that part only
  const members = run(["tar", "-tf", blob], { allowFail: true });
  if (members.status !== 0) {
    rmSync(blob, { force: true });
    throw new LxtError(`\`${tarball}\` is not a tar archive`);
  }
  const isExport = members.stdout.split("\n").includes("lxt-export.json");
  let layer: string;
  if (isExport) {
    layer = layerDir(digest);
    if (!existsSync(layer)) {
      const tmp = `${layer}.partial-${process.pid}`;
      mkdirSync(tmp, { recursive: true });
      const r = run(["tar", "-x", "-p", "-f", blob, "--numeric-owner", "--xattrs", "--xattrs-include=*", "-C", tmp, "--strip-components=1", "--wildcards", "rootfs/*"], { allowFail: true });
      if (r.status !== 0) {
        rmSync(tmp, { recursive: true, force: true });
        throw new LxtError(`unpack ${tarball}: ${r.stderr.trim()}`);
      }
      renameSync(tmp, layer);
    }
  } else layer = await unpackLayer(blob, { digest });
  if (!existsSync(`${layer}/bin`) && !existsSync(`${layer}/usr`)) process.stderr.write(`image: warning: ${tarball} has neither /bin nor /usr at its top: is it a rootfs tarball?\n`);
  const entry: ImageEntry = { alias, digest, size: statSync(tarball).size, created: new Date().toISOString(), source: tarball };
  save([...list, entry]);
  return entry;
}

export function findImage(alias: string): ImageEntry {
  const e = listImages().find((i) => i.alias === alias);
  if (!e) throw new NotFoundError(`no image with alias \`${alias}\``, "see lxt image list");
  return e;
}

/** Deletes an alias, and its data when no other alias and no container in `lxcpaths` uses it. */
export function deleteImage(alias: string, lxcpaths: string[]): void {
  const e = findImage(alias);
  const rest = listImages().filter((i) => i.alias !== alias);
  const layer = layerDir(e.digest);
  const users = lxcpaths.flatMap((p) => {
    try {
      return readdirSync(p).sort().filter((c) => existsSync(`${p}/${c}/config`) && readFileSync(`${p}/${c}/config`, "utf8").includes(layer));
    } catch {
      return [];
    }
  });
  if (users.length) throw new LxtError(`image \`${alias}\` is in use by ${users.join(", ")}`, "destroy those containers first");
  save(rest);
  if (!rest.some((i) => i.digest === e.digest)) {
    rmSync(layer, { recursive: true, force: true });
    rmSync(`${store()}/blobs/sha256/${e.digest.slice(7)}`, { force: true });
  }
}

export function exportImage(alias: string, file: string): void {
  const e = findImage(alias);
  const r = run(["tar", "-c", "-p", "-f", file, "--numeric-owner", "--xattrs", "--xattrs-include=*", "-C", layerDir(e.digest), "."], { allowFail: true });
  if (r.status !== 0) throw new LxtError(`export ${alias}: ${r.stderr.trim()}`);
}

export const local: Template = {
  name: "local",
  create({ path, name, args }) {
    let alias: string | undefined;
    for (let i = 0; i < args.length; i++) {
      const [k, v] = args[i]!.split(/=(.*)/s);
      if (k === "--alias" || k === "-a") alias = v ?? args[++i];
      else throw new LxtError(`local template: unknown option \`${args[i]}\``, "use --alias ALIAS (see lxt image list)");
    }
    if (!alias) throw new LxtError("local template: --alias is required", "see lxt image list");
    const e = findImage(alias);
    mkdirSync(`${path}/delta0`, { recursive: true });
    return [
      ["lxc.rootfs.path", `overlay:${layerDir(e.digest)}:${path}/delta0`],
      ["lxc.uts.name", name],
      ["lxc.autodev", "1"],
      ["lxc.mount.auto", "proc:mixed sys:mixed cgroup:mixed"],
    ];
  },
};
