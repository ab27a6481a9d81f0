import type { FinalStatus } from '../store/records.ts';

/** A validated retry policy. */
export interface RetryPolicy {
  /** Total attempts including the first; 1 means no retry. */
  readonly attempts: number;
  /** Backoff before the first retry (the upper bound of its random delay). */
  readonly backoffMs: number;
  /** Largest backoff. */
  readonly maxBackoffMs: number;
  /** Growth of the backoff bound per attempt. */
  readonly factor: number;
  /** Decides whether a failure is worth retrying; null retries every retryable failure. */
  readonly retryOn: ((error: unknown) => boolean) | null;
}

export const NO_RETRY: RetryPolicy = Object.freeze({
  attempts: 1,
  backoffMs: 1_000,
  maxBackoffMs: 300_000,
  factor: 2,
  retryOn: null,
});

/**
 * The delay before retrying after attempt `attempt` (1-based) failed: exponential backoff with
 * full jitter, a uniformly random delay in [0, min(cap, base · factor^(attempt−1))). Full jitter
 * spreads retries of many tasks that failed together (e.g. a database restart) instead of
 * sending them back in lockstep.
 */
export function retryDelay(policy: RetryPolicy, attempt: number, random: () => number): number {
  const bound = Math.min(policy.maxBackoffMs, policy.backoffMs * policy.factor ** Math.max(0, attempt - 1));
  return Math.floor(random() * bound);
}

/**
 * Whether an attempt that ended in `status` gets another. Failures, timeouts and interruptions
 * are retried while attempts remain and `retryOn` agrees; cancellation is a person's decision
 * and never retried. A `retryOn` that throws counts as "no".
 */
export function shouldRetry(policy: RetryPolicy, status: FinalStatus, attempt: number, error: unknown): boolean {
  if (attempt >= policy.attempts) return false;
  if (status !== 'failed' && status !== 'timed_out' && status !== 'interrupted') return false;
  if (policy.retryOn === null) return true;
  try {
    return policy.retryOn(error) === true;
  } catch {
    return false;
  }
}

/**
 * The next wait while the store keeps failing: 250 ms, then doubling, at most `maxMs`. Pass 0
 * for the first failure.
 */
export function storeBackoff(previousMs: number, maxMs: number): number {
  return Math.min(maxMs, Math.max(250, previousMs * 2));
}
