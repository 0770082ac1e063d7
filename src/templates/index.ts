// Templates make a container's rootfs and return the config keys they want
// added. Built-in ones are TypeScript modules; a name that is not built in is
// looked up as an LXC template script (/usr/share/lxc/templates/lxc-NAME, or
// a path) and run the way lxc-create runs it.
import { existsSync } from "node:fs";
import { run } from "../util/exec.ts";
import { LxtError, NotFoundError } from "../util/errors.ts";

export interface TemplateRequest {
  name: string;
  /** the container directory (--path) */
  path: string;
  rootfs: string;
  args: string[];
}

export interface Template {
  name: string;
  /** fills `rootfs`; returns config keys to append, in order */
  create(req: TemplateRequest): Array<[string, string]> | Promise<Array<[string, string]>>;
}

const BUILTIN: Record<string, () => Promise<Template>> = {
  busybox: async () => (await import("./busybox.ts")).busybox,
  debian: async () => (await import("./debian.ts")).debian,
  oci: async () => (await import("./oci.ts")).oci,
  local: async () => (await import("./image.ts")).local,
  sshd: async () => (await import("./sshd.ts")).sshd,
};

const SCRIPT_DIRS = ["/usr/share/lxt/templates", "/usr/share/lxc/templates"];

function scriptTemplate(path: string): Template {
  return {
    name: path,
    create({ name, path: dir, rootfs, args }) {
      const r = run([path, `--path=${dir}`, `--name=${name}`, `--rootfs=${rootfs}`, ...args], {
        inherit: true,
        allowFail: true,
        env: { ...process.env, LXC_NAME: name, LXC_PATH: dir, LXC_ROOTFS: rootfs },
      });
      if (r.status !== 0) throw new LxtError(`template \`${path}\` failed with exit status ${r.status ?? r.signal}`, "see its output above");
      return [];
    },
  };
}

export async function findTemplate(t: string): Promise<Template> {
  const b = BUILTIN[t];
  if (b) return b();
  if (t.includes("/")) {
    if (existsSync(t)) return scriptTemplate(t);
  } else {
    for (const d of SCRIPT_DIRS) if (existsSync(`${d}/lxc-${t}`)) return scriptTemplate(`${d}/lxc-${t}`);
  }
  throw new NotFoundError(
    `template \`${t}\` not found`,
    `built in: ${Object.keys(BUILTIN).join(", ")}; LXC template scripts are looked up in ${SCRIPT_DIRS.join(" and ")}; use -t none for a container without a rootfs`,
  );
}
