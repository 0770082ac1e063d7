// The error hierarchy. Only src/cli prints errors or exits; everything below
// throws one of these. Messages read "<action> `<object>`: <cause>"; `hint`
// says what to do about it.

export class LxtError extends Error {
  override name = "LxtError";
  /** process exit code the CLI uses for this error */
  exitCode = 1;
  constructor(
    message: string,
    public hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A config file problem: always names file:line and the key. */
export class ConfigError extends LxtError {
  override name = "ConfigError";
  constructor(
    public file: string,
    public line: number,
    public key: string,
    public problem: string,
    hint?: string,
  ) {
    super(`${file}:${line}: ${key ? `${key}: ` : ""}${problem}`, hint);
  }
}

export class NotFoundError extends LxtError {
  override name = "NotFoundError";
}

/** The container is in the wrong state for the operation. */
export class StateError extends LxtError {
  override name = "StateError";
}

export class NotSupportedError extends LxtError {
  override name = "NotSupportedError";
}

/** A host command failed: carries argv, exit status and stderr. */
export class ExecError extends LxtError {
  override name = "ExecError";
  constructor(
    public argv: string[],
    public status: number | null,
    public stderr: string,
    message?: string,
  ) {
    super(
      message ??
        `run \`${argv.join(" ")}\`: exited with ${status === null ? "a signal" : status}${stderr.trim() ? `: ${stderr.trim().split("\n").slice(-3).join(" | ")}` : ""}`,
    );
  }
}

/** The native shim reported a failure at a named step of the start/attach sequence. */
export class ShimError extends LxtError {
  override name = "ShimError";
  constructor(
    public step: string,
    public errno: number,
    message: string,
    hint?: string,
  ) {
    super(message, hint);
  }
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
