// lxt update-config: rewrites legacy keys to modern ones in place, keeping
// comments, blank lines and order, as lxc-update-config does.
import { LEGACY, LEGACY_IGNORED } from "./keys.ts";

export function updateConfigText(text: string): { text: string; changed: number } {
  let nic = -1;
  let changed = 0;
  let backend: string | undefined;
  const m = /^\s*lxc\.rootfs\.backend\s*=\s*(\S+)/m.exec(text);
  if (m) backend = m[1];
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const r = /^(\s*)(lxc\.[^\s=]+)(\s*=\s*)(.*)$/.exec(line);
    if (!r) {
      out.push(line);
      continue;
    }
    const [, ws, key, eq, value] = r as unknown as [string, string, string, string, string];
    let nk: string | undefined;
    let nv = value;
    if (LEGACY_IGNORED.includes(key)) {
      changed++;
      continue;
    }
    const net = /^lxc\.network\.(?:(\d+)\.)?(.+)$/.exec(key);
    if (net) {
      if (net[1] !== undefined) nk = `lxc.net.${net[1]}.${net[2]}`;
      else {
        let sub = net[2]!;
        if (sub === "type") nic++;
        if (sub === "ipv4" || sub === "ipv6") sub = `${sub}.address`;
        nk = `lxc.net.${Math.max(nic, 0)}.${sub}`;
      }
    } else if (key === "lxc.network") nk = "lxc.net";
    else if (key.startsWith("lxc.limit.")) nk = `lxc.prlimit.${key.slice(10)}`;
    else if (LEGACY[key]) {
      nk = LEGACY[key];
      if (key === "lxc.rootfs" && !/^[a-z]+:/.test(value)) nv = `${backend ?? "dir"}:${value}`;
    }
    if (nk) {
      changed++;
      out.push(`${ws}${nk}${eq}${nv}`);
    } else out.push(line);
  }
  return { text: out.join("\n"), changed };
}
