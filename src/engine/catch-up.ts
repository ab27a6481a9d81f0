import type { Schedule } from './schedules/types.ts';
import type { TaskPolicy } from './task-options.ts';

/** How many missed ticks get a skip record of their own; older ones share one summary record. */
export const MAX_INDIVIDUAL_SKIPS = 100;
/** Counting missed cron ticks stops here; a summary then says "at least". */
const MAX_COUNT = 100_000;

/** What to do with the ticks missed in (cursor, observedFrom). */
export interface CatchUpPlan {
  /** Ticks to run as `catch-up`, oldest first. */
  readonly run: readonly number[];
  /** Ticks to record as skipped (`missed`), each on its own. */
  readonly skip: readonly number[];
  /** Older missed ticks, recorded as one skipped record. */
  readonly summary: { readonly first: number; readonly count: number } | null;
}

const EMPTY: CatchUpPlan = { run: [], skip: [], summary: null };

/**
 * Decides the fate of ticks that fell while no scheduler was watching: after downtime (from the
 * persisted cursor to start-up) or across a forward wall-clock jump. Pure.
 *
 * - `latest`: run the newest missed tick if it is within `catchUpWindow`; skip the others.
 * - `all`: run the newest `catchUpLimit` missed ticks within the window, oldest first; skip the rest.
 * - `none`: skip them all.
 *
 * Skips are recorded individually for the newest {@link MAX_INDIVIDUAL_SKIPS}, and older ones
 * as one summary, so a year of downtime of a per-second task costs a bounded number of records.
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

  // Walk back from the newest missed tick: first the ones to run, then individual skips.
  const run: number[] = [];
  const skip: number[] = [];
  let tick: number | null = newest;
  while (tick !== null && tick > cursor && skip.length < MAX_INDIVIDUAL_SKIPS) {
    if (run.length < runLimit && skip.length === 0 && tick >= oldestInWindow) run.push(tick);
    else skip.push(tick);
    tick = schedule.previousBefore(tick);
  }
  run.reverse();
  skip.reverse();
  if (tick === null || tick <= cursor) return { run, skip, summary: null };
  const first = schedule.nextAfter(cursor);
  if (first === null || first > tick) return { run, skip, summary: null };
  return { run, skip, summary: { first, count: countTicks(schedule, first, tick) } };
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
