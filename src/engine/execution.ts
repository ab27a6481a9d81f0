import type { LastSuccess, LogLevel, RunProgress, RunRecord, SkipReason } from '../store/records.ts';
import { describeValue } from '../util/errors.ts';
import type { Condition, ConditionResult } from './smart-options.ts';
import { logLevel } from './run-log.ts';
import {
  ConditionFailedError,
  LeaseLostError,
  RunCancelledError,
  RunTimeoutError,
  ShutdownError,
} from '../util/errors.ts';
import { textOf } from '../util/json.ts';
import type { Logger } from '../util/logger.ts';
import type { AbortCause, Settlement } from './run-state.ts';
import { noTracer, type RunSpan, type RunTracer } from './tracing.ts';
import type { TaskContext } from './task.ts';
import type { Job } from './task-runtime.ts';
import { type ElapsedEntry, timerEntry, type TimerQueue } from './timer-queue.ts';

/** Progress is written on every report: a message is a status line, not a log. */
const MAX_PROGRESS_MESSAGE_CHARS = 1_024;

/** What an execution needs from its scheduler. */
export interface ExecutionHost {
  readonly timers: TimerQueue;
  readonly logger: Logger;
  readonly tracer: RunTracer;
  /** Elapsed (monotonic) time, ms: when a handler started, for a timeout armed after it. */
  monotonic(): number;
  /** The logger a run's handler sees, given the scheduler's with the run's fields bound. */
  runLogger(execution: Execution, base: Logger): Logger;
  /** Writes a line to the run's log only. */
  runLogWriter(execution: Execution): (level: LogLevel, message: string) => void;
  /** The handler reported progress (now `execution.progress`). */
  onProgress(execution: Execution): void;
  /** The handler settled, or was abandoned after its grace period. Called exactly once. */
  onSettled(execution: Execution, settlement: Settlement, value: unknown): void;
}

function abortReason(cause: AbortCause, timeoutMs: number): Error {
  switch (cause) {
    case 'timeout':
      return new RunTimeoutError(timeoutMs);
    case 'cancel':
      return new RunCancelledError('cancelled');
    case 'replace':
      return new RunCancelledError('replaced');
    case 'shutdown':
      return new ShutdownError();
    case 'lease-lost':
      return new LeaseLostError();
  }
}

/**
 * One attempt of a run in this process: the handler, its context and its deadlines. An abort
 * (timeout, cancel, shutdown, lost lease) fires `ctx.signal`; a handler that has not settled
 * `abortGrace` later is abandoned, so a stuck handler cannot hold its slot forever.
 */
export class Execution {
  readonly job: Job;
  readonly run: RunRecord;
  readonly fencingToken: number;
  readonly #lastSuccess: LastSuccess | null;
  readonly #host: ExecutionHost;
  /** When the handler was called; null until then. */
  startedAt: number | null = null;
  /** The run's trace span, once its handler started (with a tracer other than the no-op one). */
  span: RunSpan | null = null;
  readonly #controller = new AbortController();
  #cause: AbortCause | null = null;
  #settled = false;
  #timeout: ElapsedEntry | null = null;
  #grace: ElapsedEntry | null = null;
  #progress: RunProgress | null = null;
  /** When progress was last published (monotonic ms), and whether a publication is pending. */
  progressPublishedAt = Number.NEGATIVE_INFINITY;
  progressPublishing = false;
  /** The lease is gone: the outcome must not be written. */
  leaseLost = false;
  /** Until when (monotonic ms) this instance surely holds the lease, as far as it knows. */
  leaseValidUntil = 0;
  /** How long `defer` held the run before it started (or was skipped); null when it was not held. */
  deferredMs: number | null = null;
  /** True once `defer` has let the run go (or it had none). */
  deferDone = false;
  /** When (monotonic ms) the handler was called: its timeout counts from there, however late it is armed. */
  #startedMono = 0;
  /** True once `run:started` was emitted for it (RunController keeps each run's events in order). */
  announced = false;
  /** The handler's context, made ahead when the run was claimed ahead of its instant. */
  #ctx: TaskContext | null = null;

  constructor(host: ExecutionHost, job: Job, run: RunRecord, lastSuccess: LastSuccess | null) {
    this.#host = host;
    this.job = job;
    this.run = run;
    this.fencingToken = run.fencingToken ?? 0;
    this.#lastSuccess = lastSuccess;
  }

  get id(): string {
    return this.run.id;
  }

  get cause(): AbortCause | null {
    return this.#cause;
  }

  get settled(): boolean {
    return this.#settled;
  }

  get progress(): RunProgress | null {
    return this.#progress;
  }

  /** The abort reason as an Error (for records and `retryOn`), or null if not aborted. */
  get abortError(): unknown {
    return this.#cause === null ? null : this.#controller.signal.reason;
  }

  /**
   * Calls the handler at `now`. Its synchronous part runs inside this call. The timeout is armed
   * by {@link armTimeout}, after every handler released with this one has started.
   */
  start(now: number): void {
    if (this.#settled) return;
    this.startedAt = now;
    const task = this.job.runtime;
    // Only a timeout needs it: no clock read per start for the tasks that have none.
    if (Number.isFinite(task.policy.timeoutMs)) this.#startedMono = this.#host.monotonic();
    const ctx = this.#ctx ?? this.#context(this.#lastSuccess);
    const condition = task.condition;
    if (condition !== null) this.#checkCondition(condition, ctx, now);
    else this.#call(ctx, now);
  }

  /**
   * Makes the handler's context now, for a run claimed ahead of its instant: at the instant only
   * the call is left to do, for every handler released with this one.
   */
  prepare(): void {
    this.#ctx ??= this.#context(this.#lastSuccess);
  }

  /**
   * Arms the run's timeout, counted from when its handler was called: it is armed once every
   * handler released with this one has started. A run that settled, or was never started, arms none.
   */
  armTimeout(): void {
    const timeoutMs = this.job.runtime.policy.timeoutMs;
    if (this.#settled || this.startedAt === null || this.#timeout !== null || !Number.isFinite(timeoutMs)) return;
    this.#timeout = timerEntry(() => this.abort('timeout'));
    this.#host.timers.after(this.#timeout, Math.max(0, timeoutMs - (this.#host.monotonic() - this.#startedMono)));
  }

  /** Shows a status line on a run whose handler has not started (why it waits), as progress 0. */
  showStatus(message: string): void {
    if (this.#settled || this.startedAt !== null) return;
    this.#progress = { fraction: 0, message: progressMessage(message) };
    this.#host.onProgress(this);
  }

  /** Ends a run that never called its handler as skipped, with why. */
  decline(reason: SkipReason, message: string): void {
    this.#settle('declined', { reason, message });
  }

  /**
   * Asks the task's `when` before its handler: a no ends the run skipped (reason `condition`), a
   * throw, a timeout or an answer that is none fails it. The condition runs inside the run's own
   * timeout too, and sees an abort of the run.
   */
  #checkCondition(condition: Condition, ctx: TaskContext, now: number): void {
    const stop = new AbortController();
    const timer = timerEntry(() => {
      const error = new ConditionFailedError(`the task's condition (when) did not answer within ${condition.timeoutMs} ms`);
      stop.abort(error);
      this.#settle('threw', error);
    });
    this.#host.timers.after(timer, condition.timeoutMs);
    const settle = (fn: () => void) => {
      this.#host.timers.cancel(timer);
      if (!this.#settled) fn();
    };
    let answer: unknown;
    try {
      answer = condition.check({ task: ctx.task, scheduledFor: ctx.scheduledFor, attempt: ctx.attempt, signal: AbortSignal.any([ctx.signal, stop.signal]) });
    } catch (error) {
      settle(() => this.#settle('threw', error));
      return;
    }
    new Promise((resolve) => resolve(answer)).then(
      (value) =>
        settle(() => {
          let verdict: ReturnType<typeof readVerdict>;
          try {
            verdict = readVerdict(value as ConditionResult);
          } catch (error) {
            // An answer whose `run` getter throws fails the run like a throwing condition.
            this.#settle('threw', error);
            return;
          }
          if (verdict === null) this.#settle('threw', new ConditionFailedError(`the task's condition (when) answered ${safeDescription(value)}; return true to run, or false, a reason string or { run: false, reason } to skip`));
          else if (verdict.run) this.#call(ctx, now);
          else this.decline('condition', verdict.reason);
        }),
      // A rejection with something that is not an Error says it came from the condition.
      (error: unknown) => settle(() => this.#settle('threw', isError(error) ? error : new ConditionFailedError(`the task's condition (when) rejected with ${safeDescription(error)}`))),
    );
  }

  #call(ctx: TaskContext, now: number): void {
    const task = this.job.runtime;
    const tracer = this.#host.tracer;
    let result: unknown;
    try {
      if (tracer === noTracer) result = task.handler(ctx);
      else {
        const { run } = this;
        this.span = tracer.start({ task: run.task, runId: run.id, attempt: run.attempt, trigger: run.trigger, scheduledFor: this.job.scheduledFor, startedAt: now, latenessMs: now - this.job.dueAt });
        result = this.span.run(() => task.handler(ctx));
      }
    } catch (error) {
      // Settled later, not now: handlers released together all start before any bookkeeping.
      queueMicrotask(() => this.#settle('threw', error));
      return;
    }
    // Resolving through a new promise reads `then` inside the promise machinery: a returned
    // object whose `then` getter (or `then` itself) throws rejects the run instead of throwing
    // out of the release loop, where it would crash the process and leave the run `running`.
    new Promise((resolve) => resolve(result)).then(
      (value) => this.#settle('returned', value),
      (error: unknown) => this.#settle('threw', error),
    );
  }

  /**
   * Aborts the run's signal with `cause` (the first cause wins). With `grace`, the handler is
   * abandoned if it has not settled after the task's `abortGrace`.
   */
  abort(cause: AbortCause, grace = true, reason: Error = abortReason(cause, this.job.runtime.policy.timeoutMs)): void {
    if (this.#settled || this.#cause !== null) return;
    this.#cause = cause;
    this.#controller.abort(reason);
    if (grace) {
      this.#grace = timerEntry(() => this.abandon());
      this.#host.timers.after(this.#grace, this.job.runtime.policy.abortGraceMs);
    }
  }

  /** Gives up on the handler now; it may still be running, but its result is ignored. */
  abandon(): void {
    this.#settle('abandoned', undefined);
  }

  #settle(settlement: Settlement, value: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    if (this.#timeout !== null) this.#host.timers.cancel(this.#timeout);
    if (this.#grace !== null) this.#host.timers.cancel(this.#grace);
    this.#host.onSettled(this, settlement, value);
  }

  #context(lastSuccess: LastSuccess | null): TaskContext {
    const { job, run } = this;
    // A person's retry redoes its tick: the same key as the tick's own attempts.
    const tickKey = job.trigger === 'manual' ? `manual:${run.id}` : new Date(job.scheduledFor).toISOString();
    // Made on first use: most handlers of a burst never log, and each logger costs a child and a log buffer.
    let logger: Logger | null = null;
    let writeLine: ((level: LogLevel, message: string) => void) | null = null;
    const host = this.#host;
    const self = this;
    return {
      signal: this.#controller.signal,
      runId: run.id,
      task: run.task,
      scheduledFor: new Date(job.scheduledFor),
      attempt: run.attempt,
      trigger: run.trigger,
      lastSuccess,
      get logger(): Logger {
        // A handler that first logs after its run ended logs to the scheduler's logger only.
        logger ??= self.#settled ? host.logger.child({ task: run.task, runId: run.id, attempt: run.attempt }) : host.runLogger(self, host.logger.child({ task: run.task, runId: run.id, attempt: run.attempt }));
        return logger;
      },
      log: (message: string, level: LogLevel = 'info') => {
        if (self.#settled) return;
        // Whatever it is given is kept as text, at the level it names (`warning`, `ERROR` included).
        (writeLine ??= host.runLogWriter(self))(logLevel(level), typeof message === 'string' ? message : textOf(message));
      },
      idempotencyKey: `${run.task}@${tickKey}`,
      fencingToken: this.fencingToken,
      progress: (fraction: number, message?: string) => {
        if (this.#settled || typeof fraction !== 'number' || Number.isNaN(fraction)) return;
        this.#progress = { fraction: Math.min(1, Math.max(0, fraction)), message: progressMessage(message) };
        this.#host.onProgress(this);
      },
    };
  }
}

/** {@link describeValue}, for values that may throw when looked at (a revoked Proxy). */
function safeDescription(value: unknown): string {
  try {
    return describeValue(value);
  } catch {
    return 'a value that cannot be read';
  }
}

/** `instanceof Error`, false for a value that throws when asked (a revoked Proxy). */
function isError(value: unknown): boolean {
  try {
    return value instanceof Error;
  } catch {
    return false;
  }
}

/** What a condition's answer says: run, or skip with a reason; null for an answer that is none. */
function readVerdict(value: ConditionResult): { run: true } | { run: false; reason: string } | null {
  if (value === true) return { run: true };
  if (value === false) return { run: false, reason: 'the condition answered false' };
  if (typeof value === 'string') return { run: false, reason: value.slice(0, MAX_PROGRESS_MESSAGE_CHARS) || 'the condition answered no' };
  if (typeof value === 'object' && value !== null && typeof (value as { run?: unknown }).run === 'boolean') {
    const { run, reason } = value as { run: boolean; reason?: unknown };
    if (run) return { run: true };
    return { run: false, reason: typeof reason === 'string' && reason !== '' ? reason.slice(0, MAX_PROGRESS_MESSAGE_CHARS) : 'the condition answered no' };
  }
  return null;
}

/** A progress message as text; anything that is not a string is described, never thrown on. */
function progressMessage(message: unknown): string | null {
  if (message === undefined || message === null) return null;
  const text = typeof message === 'string' ? message : textOf(message);
  return text.length > MAX_PROGRESS_MESSAGE_CHARS ? text.slice(0, MAX_PROGRESS_MESSAGE_CHARS) : text;
}
