// What a running container's network namespace holds, read from
// /proc/PID/net (per netns), so ls/info need no helper process.
import { readFileSync } from "node:fs";

export interface Link {
  name: string;
  rxBytes: number;
  txBytes: number;
}

export interface NetInfo {
  ipv4: string[];
  ipv6: string[];
  links: Link[];
}

function read(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** Local IPv4 addresses from fib_trie ("/32 host LOCAL" leaves), loopback excluded. */
export function parseFibTrie(text: string): string[] {
  const out = new Set<string>();
  const lines = text.split("\n");
  for (let i = 1; i < lines.length; i++) {
    if (/\/32 host LOCAL/.test(lines[i]!)) {
      const m = /(\d+\.\d+\.\d+\.\d+)/.exec(lines[i - 1]!);
      if (m && !m[1]!.startsWith("127.")) out.add(m[1]!);
    }
  }
  return [...out];
}

/** Global IPv6 addresses from if_inet6, loopback and link-local excluded. */
export function parseIfInet6(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || f[5] === "lo") continue;
    const scope = parseInt(f[3]!, 16);
    if (scope !== 0) continue; // 0x20 link, 0x10 host
    const hex = f[0]!;
    const groups = hex.match(/.{4}/g)!.map((g) => g.replace(/^0+(?=.)/, ""));
    out.push(groups.join(":").replace(/(^|:)0(:0)+(:|$)/, "::").replace(/:{3,}/, "::"));
  }
  return out;
}

export function parseNetDev(text: string): Link[] {
  const out: Link[] = [];
  for (const line of text.split("\n").slice(2)) {
    const m = /^\s*([^:]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    out.push({ name: m[1]!, rxBytes: f[0] ?? 0, txBytes: f[8] ?? 0 });
  }
  return out;
}

export function netInfo(pid: number): NetInfo {
  return {
    ipv4: parseFibTrie(read(`/proc/${pid}/net/fib_trie`)),
    ipv6: parseIfInet6(read(`/proc/${pid}/net/if_inet6`)),
    links: parseNetDev(read(`/proc/${pid}/net/dev`)),
  };
}
