// lxc.hook.*: the environment LXC gives hooks, and running the host-side ones.
import type { ContainerSpec, HookType } from "../spec/types.ts";
import { sh } from "../util/exec.ts";
import { LxtError } from "../util/errors.ts";

export function rootfsMount(spec: ContainerSpec): string {
  return spec.rootfs.mount ?? spec.rootfs.path;
}

/** LXC_* variables every hook sees (LXC's hook environment). */
export function hookEnv(spec: ContainerSpec, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {
    LXC_NAME: spec.name,
    LXC_CONFIG_FILE: spec.configPath,
    LXC_ROOTFS_MOUNT: rootfsMount(spec),
    LXC_ROOTFS_PATH: spec.rootfs.spec,
    LXC_CGNS_AWARE: "1",
    LXC_LOG_LEVEL: String(spec.log.level),
    LXC_HOOK_VERSION: String(spec.hookVersion),
    ...extra,
  };
  if (spec.console.path) env.LXC_CONSOLE = spec.console.path;
  if (spec.console.logfile) env.LXC_CONSOLE_LOGPATH = spec.console.logfile;
  return env;
}

/** The command line LXC runs for a hook: version 0 appends "NAME lxc TYPE". */
export function hookCommand(spec: ContainerSpec, type: HookType, cmd: string, extraArgs: string[] = []): string {
  if (spec.hookVersion === 1) return cmd;
  return [cmd, spec.name, "lxc", type, ...extraArgs].join(" ");
}

/** Runs the host-side hooks of one type in order; the first failure throws. */
export function runHostHooks(spec: ContainerSpec, type: HookType, extra: Record<string, string> = {}): void {
  const env = { ...process.env, ...hookEnv(spec, extra) } as Record<string, string>;
  if (spec.hookVersion === 1) {
    env.LXC_HOOK_TYPE = type;
    env.LXC_HOOK_SECTION = "lxc";
  }
  for (const cmd of spec.hooks[type]) {
    const r = sh(hookCommand(spec, type, cmd), { env, allowFail: true });
    if (r.status !== 0) {
      const why = r.status === null ? `was killed by ${r.signal}` : `exited with status ${r.status}`;
      throw new LxtError(
        `${type} hook \`${cmd}\` ${why}${r.stderr.trim() ? `: ${r.stderr.trim().split("\n").slice(-2).join(" | ")}` : ""}`,
        `fix or remove lxc.hook.${type} in ${spec.configPath}`,
      );
    }
  }
}
