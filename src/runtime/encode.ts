// The shim's plan encoding: records "OP \0 ARGC \0 ARG1 \0 ... ARGn \0".
export type Op = [string, ...string[]];

export function encodePlan(ops: Op[]): Uint8Array {
  const parts: string[] = [];
  for (const [op, ...args] of ops) {
    for (const s of [op, ...args]) if (s.includes("\0")) throw new Error(`plan value contains a NUL byte: ${JSON.stringify(s)}`);
    parts.push(op, String(args.length), ...args);
  }
  return new TextEncoder().encode(parts.join("\0") + "\0");
}
