// Progress of a long transfer (an image pull, a layer unpack) on stderr.
// On a terminal: one bar redrawn in place, at most ten times a second:
//   oci: fetching sha256:1a2b3c4d5e6f [##########----------]  52%  13.1/25.2 MiB  8.4 MiB/s
// Elsewhere (logs, CI, pipes): a line when it starts and one when it ends,
// so a log shows what ran and how long it took without carriage returns.
// Small transfers (under QUIET bytes: manifests, configs) show nothing.

const MiB = 1048576;
const WIDTH = 20;
const QUIET = 256 * 1024;

const mib = (n: number) => (n / MiB).toFixed(1);

export class Progress {
  private done = 0;
  private readonly t0 = performance.now();
  private last = 0;
  private readonly tty: boolean;
  private readonly quiet: boolean;

  constructor(
    private readonly label: string,
    private readonly total: number | undefined,
    private readonly out: { write(s: string): unknown; isTTY?: boolean } = process.stderr,
  ) {
    this.tty = out.isTTY === true && process.env.TERM !== "dumb";
    this.quiet = total !== undefined && total < QUIET;
    if (this.quiet) return;
    if (!this.tty) out.write(`${label}${total ? ` (${mib(total)} MiB)` : ""}...\n`);
    else this.draw();
  }

  /** n more bytes went through. */
  add(n: number): void {
    this.done += n;
    if (!this.tty || this.quiet) return;
    const now = performance.now();
    if (now - this.last < 100) return;
    this.last = now;
    this.draw();
  }

  private rate(): string {
    const s = (performance.now() - this.t0) / 1000;
    return s > 0.05 ? `${mib(this.done / s)} MiB/s` : "";
  }

  private draw(): void {
    let bar = "";
    if (this.total) {
      const f = Math.min(1, this.done / this.total);
      const filled = Math.round(f * WIDTH);
      bar = ` [${"#".repeat(filled)}${"-".repeat(WIDTH - filled)}] ${String(Math.floor(f * 100)).padStart(3)}%  ${mib(this.done)}/${mib(this.total)} MiB`;
    } else bar = `  ${mib(this.done)} MiB`;
    this.out.write(`\r${this.label}${bar}  ${this.rate()}\x1b[K`);
  }

  /** Ends the bar (a last redraw and a newline on a terminal; a summary line elsewhere). */
  finish(note = "done"): void {
    const s = ((performance.now() - this.t0) / 1000).toFixed(1);
    if (this.quiet) return;
    if (this.tty) {
      this.draw();
      this.out.write(`  ${note}\n`);
    } else {
      const rate = this.rate();
      this.out.write(`${this.label}: ${note}, ${mib(this.done)} MiB in ${s} s${rate ? ` (${rate})` : ""}\n`);
    }
  }
}
