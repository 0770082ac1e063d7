// The cgroup layer: detect the host's hierarchies, pick the v1 or v2 driver,
// make the container's cgroup (lxt.payload.NAME, as LXC 4+ places it), and
// act on it (settings, stats, freezer, kill, removal). The child joins by
// writing 0 to joinFiles() (v1 `tasks`: no cgroup.procs RCU wait, DESIGN.md).
//
//   const cg = cgroupDriver().create({ name, spec: spec.cgroup });
//   save(cg.record());  ...  cgroupDriver().open(record).remove();
import { detectLayout } from "./detect.ts";
import { readText } from "./fs.ts";
import { baseCgroupText, parseProcCgroup } from "./placement.ts";
import type { CgroupDriver, CgroupRecord, ContainerCgroup, CreateRequest, LayoutInfo } from "./types.ts";
import { createV1, V1Cgroup } from "./v1.ts";
import { createV2, V2Cgroup } from "./v2.ts";
import { NotFoundError, NotSupportedError } from "../util/errors.ts";

export type { CgroupDriver, CgroupLayout, CgroupRecord, CgroupSpec, CgroupStats, ContainerCgroup, CreateRequest, FreezerState, Hierarchy, LayoutInfo, Stats } from "./types.ts";
export { detectLayout, parseMountinfo, probeTree } from "./detect.ts";
export { parseProcCgroup, PAYLOAD_PREFIX } from "./placement.ts";
export { translateSettings } from "./translate.ts";
export { V1Cgroup } from "./v1.ts";
export { V2Cgroup } from "./v2.ts";

export interface DriverOptions {
  /**
   * Use only the hierarchies at or below this directory (a test-mounted
   * cgroup2, a subtree of a real one, or a fake tree in a temp dir); the
   * container cgroups then go directly below each hierarchy found there.
   */
  root?: string;
  /** the driver version regardless of the detected layout (2 on a hybrid host uses its cgroup2 mount) */
  force?: 1 | 2;
  /** mountinfo text to detect from instead of /proc/self/mountinfo */
  mountinfo?: string;
}

/**
 * The driver for this host: v1 on v1 and hybrid hosts (the controllers live
 * there), v2 on pure v2 hosts. Detection runs on the first create(); open()
 * (attach, stop, ps) reads nothing but the record.
 */
export function cgroupDriver(opts: DriverOptions = {}): CgroupDriver {
  let layout: LayoutInfo | undefined;
  const detect = (): LayoutInfo => (layout ??= detectLayout(opts.root, opts.mountinfo));
  let version: 1 | 2 | undefined = opts.force;
  const pick = (): 1 | 2 => (version ??= detect().layout === "v2" ? 2 : 1);
  return {
    get version() {
      return pick();
    },
    create(req: CreateRequest): ContainerCgroup {
      const l = detect();
      if (!l.hierarchies.length)
        throw new NotSupportedError(`create cgroup for \`${req.name}\`: no cgroup hierarchy is mounted${opts.root ? ` at or below ${opts.root}` : ""}`, "mount cgroup2 on /sys/fs/cgroup, or the v1 controllers below it");
      // with `root` the container goes straight below each hierarchy; else below the caller's (or init's) cgroup
      const cgText = opts.root === undefined ? baseCgroupText(req.spec) : undefined;
      return pick() === 1 ? createV1(l, req, cgText) : createV2(l, req, cgText);
    },
    open(record: CgroupRecord): ContainerCgroup {
      if (record.version === 2) {
        const dir = record.paths.unified;
        if (!dir) throw new NotFoundError("open cgroup: the v2 record has no unified path", "the run dir's cgroup.json is damaged; stop the container with -k");
        return new V2Cgroup(dir, record.inner);
      }
      return new V1Cgroup(record.paths, record.inner);
    },
  };
}

/** The cgroups a process is in, from /proc/PID/cgroup (v2's line as controller "unified"); [] if it is gone. */
export function cgroupOfPid(pid: number): { controller: string; path: string }[] {
  const text = readText(`/proc/${pid}/cgroup`);
  return text === undefined ? [] : parseProcCgroup(text);
}
