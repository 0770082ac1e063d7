// lxt delegate USER [--remove]: as root, give an ordinary user cgroups of its
// own (lxt.user.UID in every v1 hierarchy), so its unprivileged containers get
// limits, accounting and freezing (src/cgroup/delegate.ts).
import { detectLayout } from "../../cgroup/index.ts";
import { delegate, undelegate } from "../../cgroup/delegate.ts";
import { run as exec } from "../../util/exec.ts";
import { LxtError } from "../../util/errors.ts";
import { UsageError } from "../args.ts";
import { invocation, out } from "../common.ts";
import type { Cli } from "../main.ts";

export async function run(argv: string[], cli: Cli): Promise<number> {
  const inv = invocation(argv, cli, { usage: "USER [--remove]", options: [{ name: "remove", kind: "flag" }] });
  if (inv.help) return 0;
  const user = inv.args[0];
  if (!user || inv.args.length > 1) throw new UsageError("give one user name or uid", `usage: ${cli.tool} USER [--remove]`);
  if (process.getuid?.() !== 0) throw new LxtError("lxt delegate makes cgroups for another user: run it as root");
  const id = (flag: string) => {
    const r = exec(["id", flag, "--", user], { allowFail: true });
    if (r.status !== 0) throw new LxtError(`no such user \`${user}\``, "give an existing user name or uid");
    return Number(r.stdout.trim());
  };
  const uid = id("-u");
  const gid = id("-g");
  if (uid === 0) throw new UsageError("root needs no delegation");
  const layout = detectLayout();
  const dirs = inv.opts.remove ? undelegate(layout.hierarchies, uid) : delegate(layout.hierarchies, uid, gid);
  out(dirs.map((d) => `${inv.opts.remove ? "removed" : "delegated"} ${d}\n`).join(""));
  return 0;
}
