/**
 * Typed errors with stable codes. Callers match on `code`, never on message text:
 * messages may be reworded, codes are part of the public API.
 */

/** Every code Caretaker throws or records. */
export const ErrorCode = {
  /** An option or argument is invalid; the message names it, the value and the fix. */
  InvalidOption: 'ERR_INVALID_OPTION',
  /** A task with this name is already registered. */
  DuplicateTask: 'ERR_DUPLICATE_TASK',
  /** No task with this name is registered. */
  TaskNotFound: 'ERR_TASK_NOT_FOUND',
  /** No run with this id exists. */
  RunNotFound: 'ERR_RUN_NOT_FOUND',
  /** The run is still running; only a finished run can be retried. */
  RunNotFinished: 'ERR_RUN_NOT_FINISHED',
  /** No backfill with this id exists. */
  BackfillNotFound: 'ERR_BACKFILL_NOT_FOUND',
  /** The backfill has ended (done or cancelled); only a running one can be cancelled. */
  BackfillNotRunning: 'ERR_BACKFILL_NOT_RUNNING',
  /** The store does not implement what was asked (a custom store written before the feature). */
  NotSupported: 'ERR_NOT_SUPPORTED',
  /** The call is not allowed in the scheduler's current state (e.g. `add` after `stop`). */
  SchedulerState: 'ERR_SCHEDULER_STATE',
  /** A run exceeded its `timeout`. */
  RunTimeout: 'ERR_RUN_TIMEOUT',
  /** A run was cancelled (by `cancel()` or by `overlap: 'replace'`). */
  RunCancelled: 'ERR_RUN_CANCELLED',
  /** A run was interrupted because its scheduler stopped. */
  Shutdown: 'ERR_SHUTDOWN',
  /** A run's lease expired or was taken over; its outcome can no longer be written. */
  LeaseLost: 'ERR_LEASE_LOST',
  /** A store operation failed. */
  Store: 'ERR_STORE',
  /** A `command` task exited with a non-zero status or was killed by a signal. */
  CommandFailed: 'ERR_COMMAND_FAILED',
  /** A task's `when` condition did not answer within its timeout, or answered something that is not an answer. */
  ConditionFailed: 'ERR_CONDITION_FAILED',
  /** A handler threw something; recorded on the run when the thrown value has no code. */
  HandlerFailed: 'ERR_HANDLER_FAILED',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Base class of every error Caretaker throws. */
export class CaretakerError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** One problem found while validating options. */
export interface OptionIssue {
  /** Dotted path of the option, e.g. `schedule.every` or `retry.attempts`. */
  readonly path: string;
  /** What was received, already rendered for a message. */
  readonly received: string;
  /** What is wrong and how to fix it. */
  readonly fix: string;
}

/**
 * An invalid option or argument. The message has one line per problem, each naming the option,
 * the value received and the fix; `issues` holds the same data for programs.
 */
export class InvalidOptionError extends CaretakerError {
  readonly issues: readonly OptionIssue[];

  constructor(subject: string, issues: readonly OptionIssue[]) {
    super(ErrorCode.InvalidOption, formatIssues(subject, issues));
    this.issues = issues;
  }
}

function formatIssues(subject: string, issues: readonly OptionIssue[]): string {
  const lines = issues.map((i) => `${i.path}: received ${i.received}; ${i.fix}`);
  if (lines.length === 1) return `${subject}: ${lines[0]}`;
  return `${subject}: ${lines.length} problems\n  ${lines.join('\n  ')}`;
}

/** Renders any value for an error message: short, quoted strings, no stack traces. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (typeof value === 'function') return 'a function';
  if (value === undefined) return 'nothing';
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'an invalid Date' : `Date ${value.toISOString()}`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object' && value !== null) return 'an object';
  return String(value);
}

/** Shorthand for a single-issue {@link InvalidOptionError}. */
export function invalidOption(subject: string, path: string, value: unknown, fix: string): InvalidOptionError {
  return new InvalidOptionError(subject, [{ path, received: describeValue(value), fix }]);
}

/** A task name was registered twice. */
export class DuplicateTaskError extends CaretakerError {
  readonly task: string;

  constructor(task: string) {
    super(ErrorCode.DuplicateTask, `task "${task}" is already registered; give each task a unique name, or use update("${task}", changes) to change it`);
    this.task = task;
  }
}

/** No task with this name is registered. */
export class TaskNotFoundError extends CaretakerError {
  readonly task: string;

  constructor(task: string, known: readonly string[], suggestion?: string) {
    const hint = suggestion !== undefined ? `; did you mean "${suggestion}"?` : known.length > 0 ? `; registered tasks: ${known.slice(0, 10).join(', ')}${known.length > 10 ? ', ...' : ''}` : '; no tasks are registered';
    super(ErrorCode.TaskNotFound, `no task named "${task}"${hint}`);
    this.task = task;
  }
}

/** No run with this id exists. */
export class RunNotFoundError extends CaretakerError {
  readonly runId: string;

  constructor(runId: string) {
    super(ErrorCode.RunNotFound, `no run with id "${runId}"; list runs with history() to find ids`);
    this.runId = runId;
  }
}

/** The abort reason when a run exceeds its timeout. */
/** No backfill with this id exists. */
export class BackfillNotFoundError extends CaretakerError {
  readonly backfillId: string;

  constructor(backfillId: string) {
    super(ErrorCode.BackfillNotFound, `no backfill with id ${describeValue(backfillId)}; list them with backfills() (or GET /api/tasks/<name>/backfills)`);
    this.backfillId = backfillId;
  }
}

export class RunTimeoutError extends CaretakerError {
  constructor(timeoutMs: number) {
    super(ErrorCode.RunTimeout, `run exceeded its timeout of ${timeoutMs} ms`);
  }
}

/** A `when` condition that timed out or gave no answer: the run fails with it. */
export class ConditionFailedError extends CaretakerError {
  constructor(message: string) {
    super(ErrorCode.ConditionFailed, message);
  }
}

/** The abort reason when a run is cancelled. */
export class RunCancelledError extends CaretakerError {
  constructor(why: 'cancelled' | 'replaced') {
    super(
      ErrorCode.RunCancelled,
      why === 'replaced' ? 'run was replaced by a newer run (overlap: replace)' : 'run was cancelled',
    );
  }
}

/** The abort reason when the scheduler stops while a run is in progress. */
export class ShutdownError extends CaretakerError {
  constructor() {
    super(ErrorCode.Shutdown, 'scheduler is shutting down');
  }
}

/** The abort reason when this instance lost the lease of a run. */
export class LeaseLostError extends CaretakerError {
  constructor(message = 'the lease of this run expired or was taken over by another instance') {
    super(ErrorCode.LeaseLost, message);
  }
}

/** The recorded error of a run that was interrupted because its owner disappeared. */
export class LeaseExpiredError extends CaretakerError {
  constructor(instance: string | null) {
    super(ErrorCode.LeaseLost, `lease expired: instance ${instance ?? '(unknown)'} stopped renewing it`);
  }
}
