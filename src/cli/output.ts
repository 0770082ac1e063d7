// Writing to stdout/stderr. Bun initializes Node's stream machinery the first
// time process.stdout or process.stderr is touched, which costs ~8 ms here
// (more than lxc-attach takes in all): the CLI writes with writeSync instead.
import { writeSync } from "node:fs";

function writeAll(fd: number, text: string): void {
  let buf = Buffer.from(text);
  while (buf.length) {
    try {
      buf = buf.subarray(writeSync(fd, buf));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EAGAIN") Bun.sleepSync(1); // a non-blocking pipe someone else set up
      else if (code === "EPIPE") return; // the reader went away (lxt ls | head)
      else throw e;
    }
  }
}

export const out = (text: string): void => writeAll(1, text);
export const err = (text: string): void => writeAll(2, text);

/** Whether stdout is a terminal, and its width (node:tty is loaded only here). */
export function stdoutTerminal(): { tty: boolean; columns: number } {
  const { isatty } = require("node:tty") as typeof import("node:tty");
  const tty = isatty(1);
  return { tty, columns: tty ? (process.stdout.columns ?? 80) : 80 };
}
