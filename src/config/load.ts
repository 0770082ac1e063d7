// Loading an LXC config: LXC's line rules (confile.c parse_line), includes,
// legacy keys mapped to modern ones, lxc.network.* NIC numbering, and every
// value validated. Errors name file:line, the key, what is wrong and, for an
// unknown key, the closest valid one.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { ConfigError } from "../util/errors.ts";
import { allKeyNames, KEYS, LEGACY, LEGACY_IGNORED, NET_KEYS, PREFIXES, type KeyDef } from "./keys.ts";
import { closest } from "./suggest.ts";

export interface Entry {
  /** modern key, NIC index resolved (lxc.net.0.type) */
  key: string;
  value: string;
  file: string;
  line: number;
}

export interface LoadOptions {
  /** KEY=VALUE lines applied after the file (lxt start -s) */
  defines?: string[];
  /** parse this text instead of reading the file */
  text?: string;
}

function unquote(v: string): string {
  if (v.length >= 2 && ((v[0] === '"' && v.endsWith('"')) || (v[0] === "'" && v.endsWith("'")))) return v.slice(1, -1);
  return v;
}

function keyDef(key: string): KeyDef | undefined {
  const k = KEYS[key];
  if (k) return k;
  const net = /^lxc\.net\.(\d+)(?:\.(.+))?$/.exec(key);
  if (net) return net[2] === undefined ? { list: false, validate: (v) => (v === "" ? undefined : `${key} must not have a value`) } : NET_KEYS[net[2]];
  for (const p of PREFIXES) if (key.startsWith(p.prefix)) return p.re.test(key) ? p.def : undefined;
  return undefined;
}

export class Config {
  entries: Entry[] = [];
  warnings: string[] = [];
  constructor(public path: string) {}

  /** Values of a key in effect (list keys: all since the last reset; scalars: the last). */
  getAll(key: string): string[] {
    const out: string[] = [];
    for (const e of this.entries) if (e.key === key) e.value === "" ? (out.length = 0) : out.push(e.value);
    return out;
  }
  get(key: string): string | undefined {
    let v: string | undefined;
    for (const e of this.entries) if (e.key === key) v = e.value;
    return v === "" && keyDef(key)?.list ? undefined : v;
  }
  /** Keys present with a prefix (lxc.cgroup., lxc.sysctl. ...), in order, resets applied. */
  withPrefix(prefix: string): Array<{ key: string; value: string }> {
    let out: Array<{ key: string; value: string }> = [];
    for (const e of this.entries) {
      if (e.key === prefix.replace(/\.$/, "") && e.value === "") out = [];
      else if (e.key.startsWith(prefix)) out.push({ key: e.key.slice(prefix.length), value: e.value });
    }
    return out;
  }
  /** NIC indices in order of first appearance. */
  nicIndices(): number[] {
    const s = new Set<number>();
    for (const e of this.entries) {
      const m = /^lxc\.net\.(\d+)\./.exec(e.key);
      if (m) s.add(Number(m[1]));
      if (e.key === "lxc.net" && e.value === "") s.clear();
    }
    return [...s].sort((a, b) => a - b);
  }
  /** A value as `lxc-info -c KEY` prints it (list values one per line); undefined for an unknown key. */
  itemText(key: string): string | undefined {
    const def = keyDef(key);
    if (!def && !Object.keys(KEYS).some((k) => k.startsWith(`${key}.`))) return undefined;
    if (def?.list) return this.getAll(key).join("\n");
    return this.get(key) ?? "";
  }
}

interface Ctx {
  cfg: Config;
  /** legacy lxc.network.* NIC counter (-1: none yet) */
  legacyNic: number;
  depth: number;
}

function addLine(ctx: Ctx, rawKey: string, rawValue: string, file: string, line: number): void {
  let key = rawKey;
  const value = unquote(rawValue);
  if (LEGACY_IGNORED.includes(key)) {
    ctx.cfg.warnings.push(`${file}:${line}: ${key} is obsolete and ignored`);
    return;
  }
  // legacy network keys: each un-indexed lxc.network.type starts a new NIC
  const lnet = /^lxc\.network\.(?:(\d+)\.)?(.+)$/.exec(key);
  if (lnet) {
    let sub = lnet[2]!;
    let idx: number;
    if (lnet[1] !== undefined) idx = Number(lnet[1]);
    else {
      if (sub === "type") ctx.legacyNic++;
      if (ctx.legacyNic < 0) ctx.legacyNic = 0;
      idx = ctx.legacyNic;
      if (sub === "ipv4" || sub === "ipv6") sub = `${sub}.address`;
    }
    ctx.cfg.warnings.push(`${file}:${line}: legacy key ${key}, use lxc.net.${idx}.${sub} (lxt update-config rewrites it)`);
    key = `lxc.net.${idx}.${sub}`;
  } else if (key.startsWith("lxc.limit.")) {
    key = `lxc.prlimit.${key.slice(10)}`;
  } else if (LEGACY[key]) {
    ctx.cfg.warnings.push(`${file}:${line}: legacy key ${key}, use ${LEGACY[key]}`);
    key = LEGACY[key]!;
    if (key === "lxc.rootfs.path" && value && !value.includes(":")) {
      // lxc.rootfs with lxc.rootfs.backend folded in is handled by the plain path form
    }
  }
  const def = keyDef(key);
  if (!def) {
    const net = /^lxc\.net\.(\d+)\.(.+)$/.exec(key);
    const near = closest(net ? `lxc.net.0.${net[2]}` : key, allKeyNames());
    throw new ConfigError(file, line, rawKey, net ? `Unknown network configuration key "${rawKey}"` : `Unsupported config key "${rawKey}"`,
      near ? `did you mean ${net ? near.replace("lxc.net.0.", `lxc.net.${net[1]}.`) : near}?` : "see lxc.container.conf(5) for the keys");
  }
  if (!(def.list && value === "")) {
    const err = def.validate(value);
    if (err) throw new ConfigError(file, line, key, `invalid value \`${value}\`: ${err}`);
  }
  const net = /^lxc\.net\.(\d+)\.(.+)$/.exec(key);
  if (net && (def as { types?: string[] }).types) {
    const type = ctx.cfg.get(`lxc.net.${net[1]}.type`);
    const types = (def as { types?: string[] }).types!;
    if (type && !types.includes(type)) throw new ConfigError(file, line, key, `${net[2]} does not apply to a ${type} NIC`, `it is for type ${types.join("/")}`);
  }
  if (key === "lxc.cap.keep" || key === "lxc.cap.drop") {
    const other = key === "lxc.cap.keep" ? "lxc.cap.drop" : "lxc.cap.keep";
    if (value !== "" && ctx.cfg.getAll(other).length && !(key === "lxc.cap.keep" && value === "none"))
      throw new ConfigError(file, line, key, "Keeping and dropping capabilities are mutually exclusive", `remove the ${other} lines`);
  }
  if (key === "lxc.idmap" && value !== "") {
    const clash = idmapOverlap(value, ctx.cfg.getAll("lxc.idmap"));
    if (clash) throw new ConfigError(file, line, key, `\`${value}\` overlaps \`${clash.other}\` (${clash.side} ids ${clash.range})`, "each container id and each host id may be mapped once; split or shorten the ranges");
  }
  if (key === "lxc.include") {
    include(ctx, value, file, line);
    return;
  }
  ctx.cfg.entries.push({ key, value, file, line });
}

function include(ctx: Ctx, path: string, file: string, line: number): void {
  if (ctx.depth > 16) throw new ConfigError(file, line, "lxc.include", "includes nested too deep (a loop?)");
  let isDir = path.endsWith("/");
  if (!existsSync(path)) {
    if (isDir) return; // a missing directory is ignored, as LXC does
    throw new ConfigError(file, line, "lxc.include", `included file \`${path}\` does not exist`);
  }
  isDir = statSync(path).isDirectory();
  const files = isDir ? readdirSync(path).filter((f) => f.endsWith(".conf")).sort().map((f) => `${path.replace(/\/$/, "")}/${f}`) : [path];
  ctx.depth++;
  for (const f of files) parseInto(ctx, readFileSync(f, "utf8"), f);
  ctx.depth--;
}

function parseInto(ctx: Ctx, text: string, file: string): void {
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const t = lines[i]!.trim();
    if (!t || t.startsWith("#") || !t.startsWith("lxc.")) continue;
    const eq = t.indexOf("=");
    if (eq < 0) throw new ConfigError(file, i + 1, t, `Invalid configuration line: ${t}`, "write KEY = VALUE");
    addLine(ctx, t.slice(0, eq).trim(), t.slice(eq + 1).trim(), file, i + 1);
  }
}

export function loadConfig(path: string, o: LoadOptions = {}): Config {
  const cfg = new Config(path);
  const ctx: Ctx = { cfg, legacyNic: -1, depth: 0 };
  let text: string;
  if (o.text !== undefined) text = o.text;
  else {
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      throw new ConfigError(path, 0, "", `cannot read the config file: ${(e as Error).message}`);
    }
  }
  parseInto(ctx, text, path);
  (o.defines ?? []).forEach((d, i) => {
    const eq = d.indexOf("=");
    if (eq < 0) throw new ConfigError("-s", i + 1, d, "a define must be KEY=VALUE");
    addLine(ctx, d.slice(0, eq).trim(), d.slice(eq + 1).trim(), "-s", i + 1);
  });
  return cfg;
}

/** The first earlier lxc.idmap line of the same kind whose container or host range overlaps VALUE's. */
export function idmapOverlap(value: string, earlier: string[]): { other: string; side: "container" | "host"; range: string } | undefined {
  const parse = (v: string) => {
    const [k, a, b, c] = v.trim().split(/\s+/);
    return { k, ns: Number(a), host: Number(b), n: Number(c) };
  };
  const m = parse(value);
  for (const o of earlier.map(parse)) {
    if (o.k !== m.k) continue;
    for (const [side, x, y] of [["container", m.ns, o.ns], ["host", m.host, o.host]] as const) {
      const lo = Math.max(x, y);
      const hi = Math.min(x + m.n, y + o.n) - 1;
      if (lo <= hi) return { other: `${o.k} ${o.ns} ${o.host} ${o.n}`, side, range: lo === hi ? `${lo}` : `${lo}-${hi}` };
    }
  }
  return undefined;
}
