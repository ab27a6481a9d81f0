import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import type { TaskContext } from '../engine/task.ts';
import { type Duration, formatDuration } from '../util/duration.ts';
import { positiveDurationField } from './options.ts';

/** Options every health check has. */
export interface CheckOptions {
  /** Give up on one attempt after this long. @defaultValue '10s' */
  readonly timeout?: Duration;
  /**
   * Consecutive misses before a run fails. Runs below it succeed with `ok: false` in their
   * output, so one blip does not page anybody. @defaultValue 1
   */
  readonly failAfter?: number;
}

/** The option fields of {@link CheckOptions}, for each check's schema. */
export const checkShape = {
  timeout: positiveDurationField.optional(),
  failAfter: z.number().int().min(1).max(1000).optional(),
};

/** What a probe found: a miss carries the reason. */
export type ProbeOutcome = { readonly ok: true } | { readonly ok: false; readonly error: string };

/** What every check adds to its output. */
export interface CheckResult {
  readonly ok: boolean;
  readonly latencyMs: number;
  /** 0 after a success; counts misses in a row, across runs, restarts and replicas. */
  readonly consecutiveFailures: number;
  readonly error?: string;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Runs `probe` under a signal that aborts on the run's own abort or after the timeout, and
 * keeps the streak of misses. The streak continues from the task's last successful run (whose
 * output holds it) when that run's tick is later than this instance's own last check, so a
 * restart or another replica picks up the count. Ticks are compared rather than wall times
 * because they come from the scheduler's clock, which may be virtual. Throws once the streak
 * reaches `failAfter`.
 */
export function checkRunner(options: { readonly timeout?: number | undefined; readonly failAfter?: number | undefined }) {
  const timeoutMs = options.timeout ?? DEFAULT_TIMEOUT_MS;
  const failAfter = options.failAfter ?? 1;
  let own: Streak | null = null;
  return async <T, R>(
    ctx: TaskContext,
    target: string,
    probe: (signal: AbortSignal) => Promise<{ outcome: ProbeOutcome; details: T }>,
    present: (check: CheckResult, details: T | null) => R,
  ): Promise<R> => {
    ctx.signal.throwIfAborted();
    const timeout = AbortSignal.timeout(timeoutMs);
    const started = performance.now();
    let result: { outcome: ProbeOutcome; details: T | null };
    try {
      result = await probe(AbortSignal.any([ctx.signal, timeout]));
    } catch (error) {
      // The run itself was aborted (cancel, run timeout, shutdown): no verdict on the target.
      if (ctx.signal.aborted) throw ctx.signal.reason;
      const message = timeout.aborted ? `no answer within ${formatDuration(timeoutMs)}` : describeFailure(error);
      result = { outcome: { ok: false, error: message }, details: null };
    }
    const latencyMs = Math.round(performance.now() - started);
    const count = result.outcome.ok ? 0 : previousStreak(ctx, own) + 1;
    own = { count, tick: ctx.scheduledFor.getTime() };
    const error = result.outcome.ok ? {} : { error: result.outcome.error };
    const output = present({ ok: result.outcome.ok, latencyMs, consecutiveFailures: count, ...error }, result.details);
    if (!result.outcome.ok && count >= failAfter) {
      // The failed run keeps the check's findings as its output (an error's `output`).
      const message = `${target}: ${result.outcome.error} (${count} consecutive ${count === 1 ? 'failure' : 'failures'}, failAfter ${failAfter})`;
      throw Object.assign(new Error(message), { output });
    }
    if (!result.outcome.ok) ctx.logger.warn({ target, error: result.outcome.error, consecutiveFailures: count, failAfter }, 'health check missed');
    return output;
  };
}

interface Streak {
  readonly count: number;
  /** The tick of the check that set it. */
  readonly tick: number;
}

function previousStreak(ctx: TaskContext, own: Streak | null): number {
  const last = ctx.lastSuccess;
  if (last === null || (own !== null && last.scheduledFor.getTime() <= own.tick)) return own?.count ?? 0;
  const output = last.output;
  const saved = typeof output === 'object' && output !== null && !Array.isArray(output) ? output.consecutiveFailures : undefined;
  return typeof saved === 'number' && Number.isInteger(saved) && saved >= 0 ? saved : 0;
}

/** The useful part of a network error: `fetch failed` hides the reason in `cause`. */
function describeFailure(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (typeof cause?.code === 'string') return `${cause.code}${typeof cause.message === 'string' ? ` (${cause.message})` : ''}`;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return typeof code === 'string' && !message.includes(code) ? `${code} (${message})` : message;
}
