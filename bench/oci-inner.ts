// Runs inside `unshare -m --propagation private` (bench/run.ts starts it):
// crun 1.8.1 refuses this host's hybrid cgroup layout, so the empty cgroup2
// at /sys/fs/cgroup/unified is covered by a tmpfs here, in this private mount
// namespace only (never on the host). Reads "BUNDLE\tID" lines, runs
// `crun run` for each and answers with its wall time in ms.
export {};
const m = Bun.spawnSync(["mount", "-t", "tmpfs", "none", "/sys/fs/cgroup/unified"], { stderr: "pipe" });
if (m.exitCode !== 0) {
  console.log(`cannot hide /sys/fs/cgroup/unified: ${m.stderr.toString().trim()}`);
  process.exit(1);
}
const root = `/tmp/lxt-bench-crun-${process.pid}`;
let buf = "";
for await (const chunk of Bun.stdin.stream()) {
  buf += new TextDecoder().decode(chunk);
  for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
    const [bundle, id] = buf.slice(0, i).split("\t");
    buf = buf.slice(i + 1);
    const t = performance.now();
    const p = Bun.spawnSync(["crun", "--root", root, "run", "-b", bundle!, id!], { stdout: "ignore", stderr: "pipe", stdin: "ignore" });
    const ms = performance.now() - t;
    console.log(p.exitCode === 0 ? ms.toFixed(3) : `crun exited ${p.exitCode}: ${p.stderr.toString().trim().split("\n").pop()}`);
  }
}
Bun.spawnSync(["rm", "-rf", root]);
