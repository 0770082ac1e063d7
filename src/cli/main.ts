// lxt's entry point. `lxt COMMAND ...`, or busybox-style by argv[0]:
// invoked through a link named lxc-start it behaves as lxc-start, with LXC's
// default paths (DESIGN.md). Each command lives in its own module, loaded
// only when it runs.
import { LxtError } from "../util/errors.ts";
import { UsageError } from "./args.ts";
import { err, out } from "./output.ts";
import { log } from "../util/log.ts";
import type { Mode } from "../container/context.ts";

export interface Cli {
  mode: Mode;
  /** the tool name used in messages: "lxt start" or "lxc-start" */
  tool: string;
  /** set by the command once known, for error prefixes like LXC's "lxc-stop: web: ..." */
  name?: string;
}

export type CommandModule = { run(argv: string[], cli: Cli): Promise<number> | number };

export const VERSION = "0.1.0";

const commands: Record<string, { load: () => Promise<CommandModule>; help: string; lxc?: boolean }> = {
  create: { load: () => import("./cmd/create.ts"), help: "create a container from a template", lxc: true },
  destroy: { load: () => import("./cmd/destroy.ts"), help: "destroy a container", lxc: true },
  start: { load: () => import("./cmd/start.ts"), help: "start a container (daemonized; -F foreground)", lxc: true },
  stop: { load: () => import("./cmd/stop.ts"), help: "stop a container (halt signal, then SIGKILL)", lxc: true },
  kill: { load: () => import("./cmd/kill.ts"), help: "send a signal to a container's init", lxc: true },
  execute: { load: () => import("./cmd/execute.ts"), help: "run a command as an application container", lxc: true },
  attach: { load: () => import("./cmd/attach.ts"), help: "run a command inside a running container", lxc: true },
  console: { load: () => import("./cmd/console.ts"), help: "attach to a container's console or tty", lxc: true },
  ls: { load: () => import("./cmd/ls.ts"), help: "list containers", lxc: true },
  info: { load: () => import("./cmd/info.ts"), help: "show a container's state and resource use", lxc: true },
  wait: { load: () => import("./cmd/wait.ts"), help: "wait for a container to reach a state", lxc: true },
  monitor: { load: () => import("./cmd/monitor.ts"), help: "stream state changes", lxc: true },
  autostart: { load: () => import("./cmd/autostart.ts"), help: "start/stop containers marked lxc.start.auto", lxc: true },
  freeze: { load: () => import("./cmd/freeze.ts"), help: "freeze all processes of a container", lxc: true },
  unfreeze: { load: () => import("./cmd/freeze.ts"), help: "thaw a frozen container", lxc: true },
  usernsexec: { load: () => import("./cmd/usernsexec.ts"), help: "run a command in a new user namespace with id maps", lxc: true },
  net: { load: () => import("./cmd/net.ts"), help: "the managed bridge with DHCP and NAT: start, stop, status" },
  copy: { load: () => import("./cmd/copy.ts"), help: "copy a container: full, -s snapshot clone, -e ephemeral", lxc: true },
  snapshot: { load: () => import("./cmd/snapshot.ts"), help: "take, list, restore and destroy snapshots of a container", lxc: true },
  image: { load: () => import("./cmd/image.ts"), help: "the local image store: import, list, delete, export" },
  export: { load: () => import("./cmd/export.ts"), help: "a stopped container (and its snapshots) as one tar file" },
  import: { load: () => import("./cmd/import.ts"), help: "a container from lxt export, onto any store" },
  device: { load: () => import("./cmd/device.ts"), help: "add a host device node or interface to a running container, or take it out", lxc: true },
  cgroup: { load: () => import("./cmd/cgroup.ts"), help: "read or change a running container's cgroup value", lxc: true },
  delegate: { load: () => import("./cmd/delegate.ts"), help: "as root: give a user cgroups of its own for its unprivileged containers" },
  top: { load: () => import("./cmd/top.ts"), help: "CPU, block I/O and memory use of every running container, live", lxc: true },
  ps: { load: () => import("./cmd/ps.ts"), help: "host processes with the container each belongs to", lxc: true },
  checkconfig: { load: () => import("./cmd/checkconfig.ts"), help: "check that the kernel and host can run containers", lxc: true },
  config: { load: () => import("./cmd/config.ts"), help: "show system configuration items (like lxc-config)", lxc: true },
  "update-config": { load: () => import("./cmd/update-config.ts"), help: "rewrite legacy config keys to modern ones", lxc: true },
  "compat-links": { load: () => import("./cmd/compat-links.ts"), help: "make lxc-* links to lxt in a directory" },
  __cleanup: { load: () => import("./cmd/cleanup.ts"), help: "" },
};

function usage(): string {
  const rows = Object.entries(commands)
    .filter(([n]) => !n.startsWith("__"))
    .map(([n, c]) => `  ${n.padEnd(14)} ${c.help}`);
  return `lxt ${VERSION}: Linux containers with LXC's config format and tools\n\nusage: lxt COMMAND [OPTIONS]\n\n${rows.join("\n")}\n\nEach command takes --help. Invoked as lxc-COMMAND (see \`lxt compat-links\`) lxt behaves as that LXC tool.\n`;
}

export function printError(cli: Cli, e: unknown): number {
  const prefix = cli.name ? `${cli.tool}: ${cli.name}: ` : `${cli.tool}: `;
  log("ERROR", cli.tool.replace(/^lxt |^lxc-/, ""), e instanceof Error ? e.message : String(e));
  if (e instanceof LxtError) {
    const msg = e instanceof UsageError ? e.message.replace(/^[^:]+: /, "") : e.message;
    err(`${prefix}${msg}\n`);
    if (e.hint) err(`  hint: ${e.hint}\n`);
    return e.exitCode;
  }
  err(`${prefix}internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  return 1;
}

export async function main(argv0: string, argv: string[]): Promise<number> {
  const base = argv0.slice(argv0.lastIndexOf("/") + 1);
  let mode: Mode = "lxt";
  let cmd: string | undefined;
  if (base.startsWith("lxc-")) {
    mode = "lxc";
    cmd = base.slice(4);
    if (cmd === "unshare" || !commands[cmd]?.lxc) {
      err(`${base}: this LXC tool is not provided by lxt ${VERSION}\n`);
      return 1;
    }
  } else {
    cmd = argv.shift();
    if (!cmd || cmd === "--help" || cmd === "-h" || cmd === "help") {
      out(usage());
      return cmd ? 0 : 1;
    }
    if (cmd === "--version" || cmd === "version") {
      out(`${VERSION}\n`);
      return 0;
    }
  }
  const entry = commands[cmd];
  const cli: Cli = { mode, tool: mode === "lxc" ? base : `lxt ${cmd}` };
  if (!entry) {
    err(`lxt: unknown command \`${cmd}\`\n  hint: run \`lxt --help\` for the list\n`);
    return 1;
  }
  const dd = argv.indexOf("--");
  if ((dd < 0 ? argv : argv.slice(0, dd)).includes("--version")) {
    out(`${VERSION}\n`);
    return 0;
  }
  try {
    const mod = await entry.load();
    return await mod.run(argv, cli);
  } catch (e) {
    return printError(cli, e);
  }
}

if (import.meta.main) {
  main(process.argv0, process.argv.slice(2)).then((code) => process.exit(code));
}
