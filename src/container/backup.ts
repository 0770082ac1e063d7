// lxt export / lxt import: a container as one tar file (GNU tar: owners by
// number, modes, xattrs, ACLs, device nodes), importable onto any store type.
//   lxt-export.json   {"name", "dir", "rootfs"} of the source
//   config, the files kept beside it
//   rootfs/...        the rootfs as mounted (whatever its store)
//   snaps/snapN/{config,ts,comment,rootfs/...}   with --snapshots
// A .gz name is compressed after the tar is written.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createStore, destroyStore, hostView, mountOnHost, parseRootfs, type StoreOptions, type StoreType } from "../storage/index.ts";
import { LxtError, NotFoundError } from "../util/errors.ts";
import { run } from "../util/exec.ts";
import { Revert } from "../util/revert.ts";
import { checkName, configPath, containerDir, isDefined, type Context } from "./context.ts";
import { rewriteConfig } from "./copy.ts";
import { asContainerRoot, asSubidRoot, ensureLxcpath, idmapsOf, openToMappedRoot, settleIdmapped, userIdmaps, withoutIdmapOption } from "./create.ts";
import { loadSpec, status } from "./state.ts";

const TAR = ["--numeric-owner", "--xattrs", "--xattrs-include=*", "--acls"];

function tar(args: string[], what: string): string {
  const r = run(["tar", ...args], { allowFail: true });
  if (r.status !== 0) throw new LxtError(`${what}: tar failed: ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`);
  return r.stdout;
}

/** Appends a store's files to the archive under `prefix/`. */
function appendRootfs(file: string, rootfsSpec: string, storeDir: string, prefix: string): void {
  const type = parseRootfs(rootfsSpec).type;
  const view = type === "dir" || type === "btrfs" ? hostView(rootfsSpec, storeDir) : `${storeDir}/.lxt-export-mnt`;
  const um = mountOnHost(rootfsSpec, view);
  try {
    tar(["-r", "-p", "-f", file, ...TAR, "-C", view, `--transform=s,^\\.,${prefix},`, "."], `archive ${prefix}`);
  } finally {
    um();
    if (view.endsWith(".lxt-export-mnt")) rmSync(view, { recursive: true, force: true });
  }
}

export function exportContainer(ctx: Context, name: string, file: string, o: { snapshots?: boolean } = {}): void {
  if (!isDefined(ctx, name)) throw new NotFoundError(`${name} doesn't exist`);
  if (status(ctx, name).state !== "STOPPED") throw new LxtError(`export ${name}: it is running`, `stop it first (lxt stop -n ${name})`);
  const spec = loadSpec(ctx, name);
  const dir = containerDir(ctx, name);
  const gz = /\.(tgz|gz)$/.test(file);
  const out = gz ? file.replace(/\.(tgz|gz)$/, ".tar.partial") : `${file}.partial`;
  rmSync(out, { force: true });
  try {
    writeFileSync(`${dir}/lxt-export.json`, JSON.stringify({ name, dir, rootfs: spec.rootfs.spec }));
    const aux = readdirSync(dir).filter((f) => !["rootfs", "snaps", "rootdev", "delta0", "olwork", "lxc_snapshots", "lxc_rdepends"].includes(f) && !f.startsWith("."));
    tar(["-c", "-p", "-f", out, ...TAR, "-C", dir, ...aux], "archive the config");
    appendRootfs(out, spec.rootfs.spec, dir, "rootfs");
    if (o.snapshots && existsSync(`${dir}/snaps`))
      for (const s of readdirSync(`${dir}/snaps`)) {
        const sdir = `${dir}/snaps/${s}`;
        const files = readdirSync(sdir).filter((f) => ["config", "ts", "comment"].includes(f));
        tar(["-r", "-f", out, "-C", dir, ...files.map((f) => `snaps/${s}/${f}`)], `archive snapshot ${s}`);
        const rs = /^\s*lxc\.rootfs\.path\s*=\s*(.*)$/m.exec(readFileSync(`${sdir}/config`, "utf8"))?.[1]?.trim();
        if (rs) appendRootfs(out, rs, sdir, `snaps/${s}/rootfs`);
      }
    if (gz) {
      const r = run(["sh", "-c", 'gzip -c "$1" > "$2"', "sh", out, `${file}.partial.gz`], { allowFail: true });
      if (r.status !== 0) throw new LxtError(`compress ${file}: ${r.stderr.trim()}`);
      run(["mv", `${file}.partial.gz`, file]);
    } else run(["mv", out, file]);
  } finally {
    rmSync(`${dir}/lxt-export.json`, { force: true });
    rmSync(out, { force: true });
    rmSync(`${file}.partial.gz`, { force: true });
  }
}

export async function importContainer(ctx: Context, file: string, o: { name?: string; bdev?: string; store?: StoreOptions } = {}): Promise<string> {
  if (!existsSync(file)) throw new NotFoundError(`\`${file}\` does not exist`);
  let meta: { name: string; dir: string; rootfs: string };
  try {
    meta = JSON.parse(tar(["-x", "-O", "-f", file, "lxt-export.json"], `read ${file}`));
  } catch (e) {
    throw new LxtError(`\`${file}\` is not an lxt export (${e instanceof Error ? e.message : String(e)})`, "make one with lxt export -n NAME FILE");
  }
  const name = checkName(o.name ?? meta.name);
  if (isDefined(ctx, name)) throw new LxtError(`Container ${name} already exists`, "import it under another name with -n");
  const dir = containerDir(ctx, name);
  // an ordinary user: an unprivileged container on a dir store, its files unpacked as its
  // root (owner k in the archive is the container's k), /dev left to autodev
  const user = (process.getuid?.() ?? 0) !== 0;
  const src = parseRootfs(meta.rootfs).type;
  const type = (o.bdev ?? (src === "overlay" || src === "blockdev" || user ? "dir" : src)) as StoreType;
  if (user && type !== "dir") throw new LxtError(`import ${name}: an ordinary user's containers are on dir stores`, "drop -B");
  const unpack = (args: string[], what: string) =>
    user
      ? asContainerRoot(["tar", "-x", "-p", "-f", file, "--numeric-owner", "--xattrs", "--xattrs-include=user.*", "--xattrs-include=security.capability", ...args], what)
      : tar(["-x", "-p", "-f", file, ...TAR, ...args], what);
  const r = new Revert();
  try {
    ensureLxcpath(ctx);
    mkdirSync(dir, { recursive: true, mode: 0o770 });
    r.add(() => rmSync(dir, { recursive: true, force: true }));
    if (user) r.add(() => asSubidRoot(["rm", "-rf", dir], `remove ${dir}`));
    const rootfs = createStore(type, dir, name, o.store ?? {});
    r.add(() => destroyStore(rootfs));
    const view = hostView(rootfs, dir);
    const um = mountOnHost(rootfs, view);
    try {
      unpack(["-C", view, "--strip-components=1", "--wildcards", ...(user ? ["--exclude=rootfs/dev/*"] : []), "rootfs/*"], "unpack the rootfs");
      if (user) asContainerRoot(["chown", "0:0", view], "give the rootfs to the container's root");
    } finally {
      um();
    }
    tar(["-x", "-p", "-f", file, "-C", dir, "--exclude=rootfs", "--exclude=rootfs/*", "--exclude=snaps/*/rootfs", "--exclude=snaps/*/rootfs/*", "--exclude=lxt-export.json"], "unpack the config");
    let text = rewriteConfig(readFileSync(configPath(ctx, name), "utf8"), { oldDir: meta.dir, newDir: dir, oldName: meta.name, newName: name, rootfs, keepMac: true });
    // the user's own ids, whatever the exporter mapped (its files were unpacked for them)
    if (user) text = `${withoutIdmapOption(text.replace(/^\s*lxc\.idmap\s*=.*\n?/gm, "")).replace(/\n*$/, "\n")}${userIdmaps()}`;
    writeFileSync(configPath(ctx, name), text);
    settleIdmapped(configPath(ctx, name), rootfs, dir);
    openToMappedRoot(dir, idmapsOf(readFileSync(configPath(ctx, name), "utf8")));
    if (existsSync(`${dir}/snaps`))
      for (const s of readdirSync(`${dir}/snaps`)) {
        const sdir = `${dir}/snaps/${s}`;
        const srs = createStore("dir", sdir, s, {});
        unpack(["-C", `${sdir}/rootfs`, "--strip-components=3", "--wildcards", ...(user ? [`--exclude=snaps/${s}/rootfs/dev/*`] : []), `snaps/${s}/rootfs/*`], `unpack snapshot ${s}`);
        if (user) asContainerRoot(["chown", "0:0", `${sdir}/rootfs`], "give the snapshot to the container's root");
        writeFileSync(`${sdir}/config`, rewriteConfig(readFileSync(`${sdir}/config`, "utf8"), { oldDir: meta.dir, newDir: dir, oldName: meta.name, newName: name, rootfs: srs, keepMac: true }));
      }
    r.success();
  } finally {
    await r.fail();
  }
  return name;
}
