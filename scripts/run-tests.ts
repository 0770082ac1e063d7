// Runs the whole suite under Bun's test runner, passes its output through,
// and ends with the one line CI reads: "N passed, M failed, K skipped".
// Exit status: non-zero when a test failed or the runner itself failed.
const args = process.argv.slice(2);
const targets = args.length ? args : ["test/"];
const proc = Bun.spawn([process.execPath, "test", "--timeout", "120000", ...targets], {
  stdout: "inherit",
  stderr: "pipe",
  stdin: "ignore",
  env: { ...process.env, FORCE_COLOR: "0" },
});
let text = "";
const dec = new TextDecoder();
for await (const chunk of proc.stderr) {
  process.stderr.write(chunk);
  text += dec.decode(chunk, { stream: true });
}
const code = await proc.exited;
const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
const pass = num(/^\s*(\d+) pass$/m);
const fail = num(/^\s*(\d+) fail$/m);
const skip = num(/^\s*(\d+) skip$/m) + num(/^\s*(\d+) todo$/m);
process.stdout.write(`\n${pass} passed, ${fail} failed, ${skip} skipped\n`);
process.exit(code !== 0 || fail > 0 || pass === 0 ? code || 1 : 0);
