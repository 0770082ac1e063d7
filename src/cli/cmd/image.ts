// lxt image import TARBALL --alias A | list | delete A | export A FILE
import { deleteImage, exportImage, importImage, listImages } from "../../templates/image.ts";
import { UsageError } from "../args.ts";
import { invocation, out } from "../common.ts";
import { humanSize } from "../format.ts";
import type { Cli } from "../main.ts";

export async function run(argv: string[], cli: Cli): Promise<number> {
  const inv = invocation(argv, cli, { usage: "import TARBALL --alias A | list | delete A | export A FILE", options: [{ name: "alias", kind: "value" }] });
  if (inv.help) return 0;
  const [verb, a, b] = inv.args;
  if (verb === "import") {
    const alias = inv.opts.alias as string | undefined;
    if (!a || !alias) throw new UsageError("import needs TARBALL and --alias", "e.g. lxt image import rootfs.tar.gz --alias base");
    const e = await importImage(a, alias);
    out(`${e.alias} ${e.digest.slice(0, 19)}\n`);
  } else if (verb === "list") {
    const rows = listImages();
    out(`${"ALIAS".padEnd(20)} ${"DIGEST".padEnd(19)} ${"SIZE".padStart(11)}  CREATED\n`);
    for (const e of rows) out(`${e.alias.padEnd(20)} ${e.digest.slice(0, 19)} ${humanSize(e.size).padStart(11)}  ${e.created}\n`);
  } else if (verb === "delete") {
    if (!a) throw new UsageError("delete needs an alias");
    deleteImage(a, inv.lxcpaths);
  } else if (verb === "export") {
    if (!a || !b) throw new UsageError("export needs an alias and a file");
    exportImage(a, b);
  } else throw new UsageError(verb ? `unknown action \`${verb}\`` : "missing action", "import, list, delete or export");
  return 0;
}
