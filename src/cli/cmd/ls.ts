import { containerNames, describe, stats } from "../../container/list.ts";
import { makeContext } from "../../container/context.ts";
import type { State } from "../../container/state.ts";
import { err, invocation, out } from "../common.ts";
import { table } from "../format.ts";
import { stdoutTerminal } from "../output.ts";
import type { Cli } from "../main.ts";

const COLUMNS = ["NAME", "STATE", "PID", "RAM", "SWAP", "AUTOSTART", "GROUPS", "INTERFACE", "IPV4", "IPV6", "UNPRIVILEGED"];
const DEFAULT_FANCY = ["NAME", "STATE", "AUTOSTART", "GROUPS", "IPV4", "IPV6", "UNPRIVILEGED"];

export async function run(argv: string[], cli: Cli): Promise<number> {
  const inv = invocation(argv, cli, {
    usage: "[-1] [-f] [-F COLUMNS] [--active|--running|--frozen|--stopped|--defined] [-g GROUPS] [--filter REGEX | REGEX]",
    options: [
      { name: "line", short: "1", kind: "flag" },
      { name: "fancy", short: "f", kind: "flag" },
      { name: "fancy-format", short: "F", kind: "value" },
      { name: "active", kind: "flag" },
      { name: "running", kind: "flag" },
      { name: "frozen", kind: "flag" },
      { name: "stopped", kind: "flag" },
      { name: "defined", kind: "flag" },
      { name: "groups", short: "g", kind: "list" },
      { name: "filter", kind: "value" },
      { name: "nesting", kind: "flag", optionalValue: true },
    ],
  });
  if (inv.help) return 0;
  const o = inv.opts;
  const fancy = o.fancy === true || o["fancy-format"] !== undefined;
  let cols = DEFAULT_FANCY;
  if (o["fancy-format"]) {
    cols = (o["fancy-format"] as string).split(",").map((c) => c.trim().toUpperCase());
    const bad = cols.find((c) => !COLUMNS.includes(c));
    if (bad) {
      err(`Invalid key: ${bad}\n`);
      return 0;
    }
  }
  const filterSrc = (o.filter as string | undefined) ?? inv.args[0];
  const filter = filterSrc ? new RegExp(filterSrc) : undefined;
  const groups = ((o.groups as string[] | undefined) ?? []).flatMap((g) => g.split(",")).filter(Boolean);
  const wantStates: State[] | undefined = o.running
    ? ["RUNNING", "FROZEN", "FREEZING", "THAWED"]
    : o.active
      ? ["RUNNING", "FROZEN", "FREEZING", "THAWED", "STARTING", "STOPPING"]
      : o.frozen
        ? ["FROZEN"]
        : o.stopped
          ? ["STOPPED"]
          : undefined;
  const needNet = fancy && cols.some((c) => c === "IPV4" || c === "IPV6" || c === "INTERFACE");

  const rows: string[][] = [];
  const names: string[] = [];
  for (const lxcpath of inv.lxcpaths) {
    const ctx = makeContext(cli.mode, lxcpath);
    for (const name of containerNames(ctx)) {
      if (filter && !filter.test(name)) continue;
      const r = describe(ctx, name, { net: needNet });
      if (wantStates && !wantStates.includes(r.status.state)) continue;
      if (groups.length && !r.spec?.groups.some((g) => groups.includes(g))) continue;
      names.push(name);
      if (!fancy) continue;
      const st = r.status.state !== "STOPPED" && (cols.includes("RAM") || cols.includes("SWAP")) ? stats(ctx, name) : undefined;
      const dash = (v: string | undefined) => (v ? v : "-");
      const cell: Record<string, string> = {
        NAME: name,
        STATE: r.status.state,
        PID: r.status.initPid ? String(r.status.initPid) : "-",
        RAM: st?.memoryBytes !== undefined ? `${(st.memoryBytes / 1048576).toFixed(2)}MB` : r.status.state === "STOPPED" ? "-" : "0.00MB",
        SWAP: st?.swapBytes !== undefined ? `${(st.swapBytes / 1048576).toFixed(2)}MB` : r.status.state === "STOPPED" ? "-" : "0.00MB",
        AUTOSTART: r.spec?.start.auto ? "1" : "0",
        GROUPS: dash(r.spec?.groups.join(", ")),
        INTERFACE: dash(r.net?.links.map((l) => l.name).join(", ")),
        IPV4: dash(r.net?.ipv4.join(", ")),
        IPV6: dash(r.net?.ipv6.join(", ")),
        UNPRIVILEGED: r.spec && r.spec.idmaps.length > 0 ? "true" : "false",
      };
      rows.push(cols.map((c) => cell[c] ?? "-"));
    }
  }
  if (fancy) {
    out(table(cols, rows));
    return 0;
  }
  const term = stdoutTerminal();
  if (o.line || !term.tty) out(names.map((n) => `${n}\n`).join(""));
  else {
    const width = term.columns;
    const w = Math.max(0, ...names.map((n) => n.length)) + 2;
    const per = Math.max(1, Math.floor(width / w));
    let s = "";
    names.forEach((n, i) => (s += n.padEnd(w) + ((i + 1) % per === 0 ? "\n" : "")));
    if (names.length % per !== 0) s += "\n";
    out(s);
  }
  return 0;
}
