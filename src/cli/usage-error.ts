/** A mistake in how the CLI was called; printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  /** Stable, for `--json` output: `ERR_USAGE`, or a more specific one such as `ERR_TASK_NOT_FOUND`. */
  readonly code: string;

  constructor(message: string, code = 'ERR_USAGE') {
    super(message);
    this.code = code;
  }
}
