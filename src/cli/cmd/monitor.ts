import { makeContext } from "../../container/context.ts";
import { containerNames } from "../../container/list.ts";
import { status, type State } from "../../container/state.ts";
import { watchStates } from "../../container/wait.ts";
import { invocation, out } from "../common.ts";
import type { Cli } from "../main.ts";

// Prints LXC's lines: 'NAME' changed state to [STATE]. Runs until killed.
export async function run(argv: string[], cli: Cli): Promise<number> {
  const inv = invocation(argv, cli, { usage: "[-n REGEX] [-P LXCPATH]...", options: [{ name: "quit", short: "Q", kind: "flag" }] });
  if (inv.help || inv.opts.quit) return 0;
  const re = new RegExp(`^(?:${inv.name ?? ".*"})$`);
  const ctxs = inv.lxcpaths.map((p) => makeContext(cli.mode, p));
  const last = new Map<string, State>();
  const scan = () => {
    for (const ctx of ctxs)
      for (const name of containerNames(ctx)) {
        if (!re.test(name)) continue;
        const key = `${ctx.lxcpath}/${name}`;
        const st = status(ctx, name);
        const prev = last.get(key);
        if (prev !== undefined && prev !== st.state) {
          if (st.state === "STOPPED" && st.runtime?.exitStatus !== undefined) out(`'${name}' exited with status [${st.runtime.exitStatus}]\n`);
          out(`'${name}' changed state to [${st.state}]\n`);
        }
        last.set(key, st.state);
      }
    return false;
  };
  await Promise.all(ctxs.map((ctx) => watchStates(ctx, scan, -1)));
  return 0;
}
