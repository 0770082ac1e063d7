// Output helpers shared by ls/info/top: LXC's number formats and a plain
// column table (no library: two dozen lines, and every command pays imports).

/** LXC's humanized size: "N bytes" below 1 KiB, else "N.NN KiB|MiB|GiB|TiB". */
export function humanSize(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(2)} ${units[i]}`;
}

/** Columns padded to their widest cell, each followed by one space, as lxc-ls prints them. */
export function table(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(w[i]!) + " ").join("") + "\n";
  return line(header) + rows.map(line).join("");
}

/** `%-15s %s`, the lxc-info line. */
export function field(label: string, value: string | number): string {
  return `${label.padEnd(15)} ${value}\n`;
}
