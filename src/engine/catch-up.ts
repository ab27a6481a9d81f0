import type { Schedule } from './schedules/types.ts';
import type { TaskPolicy } from './task-options.ts';

/** Counting missed cron ticks stops here; a summary then says "at least". */
const MAX_COUNT = 100_000;

/** Missed ticks that do not run, recorded as one skipped record. */
export interface SkippedRange {
  readonly first: number;
  /** The newest skipped tick: the record's claim slot, so the cursor moves past the whole range. */
  readonly last: number;
  readonly count: number;
}

/** What to do with the ticks missed in (cursor, observedFrom). */
export interface CatchUpPlan {
  /** Ticks to run as `catch-up`, oldest first. */
  readonly run: readonly number[];
  /**
   * The missed ticks that do not run, all older than those that do: one record for the whole
   * outage, however many ticks it swallowed (a 17-minute stop of a 5 s task is one record and
   * one log line, not a hundred).
   */
  readonly skipped: SkippedRange | null;
}

const EMPTY: CatchUpPlan = { run: [], skipped: null };

/**
 * Decides the fate of ticks that fell while no scheduler was watching: after downtime (from the
 * persisted cursor to start-up) or across a forward wall-clock jump. Pure.
 *
 * - `latest`: run the newest missed tick if it is within `catchUpWindow`; skip the others.
 * - `all`: run the newest `catchUpLimit` missed ticks within the window, oldest first; skip the rest.
 * - `none`: skip them all.
 */
export function planCatchUp(schedule: Schedule, cursor: number, observedFrom: number, policy: TaskPolicy): CatchUpPlan {
  // The common case, nothing missed, answered going forward: cheap, and memoised by shared
  // schedules, where searching backwards from `observedFrom` is not.
  const firstMissed = schedule.nextAfter(cursor);
  if (firstMissed === null || firstMissed >= observedFrom) return EMPTY;
  const newest = schedule.previousBefore(observedFrom);
  if (newest === null || newest <= cursor) return EMPTY;
  const oldestInWindow = observedFrom - policy.catchUpWindowMs;
  const runLimit = policy.catchUp === 'none' ? 0 : policy.catchUp === 'latest' ? 1 : policy.catchUpLimit;

  // The newest ticks within the window run; everything older is one skipped range.
  const run: number[] = [];
  let tick: number | null = newest;
  while (tick !== null && tick > cursor && run.length < runLimit && tick >= oldestInWindow) {
    run.push(tick);
    tick = schedule.previousBefore(tick);
  }
  run.reverse();
  if (tick === null || tick <= cursor) return { run, skipped: null };
  return { run, skipped: { first: firstMissed, last: tick, count: countTicks(schedule, firstMissed, tick) } };
}

/** Ticks in [first, last], counting at most {@link MAX_COUNT}. */
function countTicks(schedule: Schedule, first: number, last: number): number {
  if ('intervalMs' in schedule && typeof schedule.intervalMs === 'number') {
    return Math.floor((last - first) / schedule.intervalMs) + 1;
  }
  let count = 1;
  for (let t = schedule.nextAfter(first); t !== null && t <= last && count < MAX_COUNT; t = schedule.nextAfter(t)) count++;
  return count;
}
