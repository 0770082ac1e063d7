// Undo on failure: register an undo step after each thing made; if the
// operation does not reach success(), fail() runs the undo steps in reverse.
//
//   const r = new Revert();
//   try { mkdir(x); r.add(() => rmdir(x)); ...; r.success(); } finally { await r.fail(); }

export class Revert {
  private steps: Array<() => unknown> = [];
  private done = false;

  add(undo: () => unknown): void {
    this.steps.push(undo);
  }

  success(): void {
    this.done = true;
    this.steps = [];
  }

  /** Runs the undo steps (newest first) unless success() was called. Never throws. */
  async fail(): Promise<void> {
    if (this.done) return;
    this.done = true;
    for (const undo of this.steps.reverse()) {
      try {
        await undo();
      } catch {
        // best effort: keep undoing the rest
      }
    }
    this.steps = [];
  }
}
