import { CronTickWalker, nextCronTick } from './schedules/count-ticks.ts';
import { CronSchedule } from './schedules/cron.ts';
import type { Schedule } from './schedules/types.ts';
import type { TaskPolicy } from './task-options.ts';

/** Counting missed ticks stops here, the count then meaning "at least": the stores keep it in a 32-bit integer. */
const MAX_COUNT = 2_147_483_647;
/** Counting ticks one `nextAfter` at a time stops here (schedules other than `every` and cron). */
const MAX_STEPPED_COUNT = 100_000;

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
  // A task registered for the first time: no instant between the two, so nothing to ask.
  if (observedFrom - cursor <= 1) return EMPTY;
  // The common case, nothing missed, answered going forward: cheap, where searching backwards
  // from `observedFrom` is not.
  const firstMissed = schedule instanceof CronSchedule ? nextCronTick(schedule, cursor, observedFrom) : schedule.nextAfter(cursor);
  if (firstMissed === null || firstMissed >= observedFrom) return EMPTY;
  const newest = schedule.previousBefore(observedFrom);
  if (newest === null || newest <= cursor) return EMPTY;
  const oldestInWindow = observedFrom - policy.catchUpWindowMs;
  const runLimit = policy.catchUp === 'none' ? 0 : policy.catchUp === 'latest' ? 1 : policy.catchUpLimit;
  if (schedule instanceof CronSchedule) {
    const plan = planCron(schedule, firstMissed, newest, oldestInWindow, runLimit);
    if (plan !== null) return plan;
  }

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

/**
 * {@link planCatchUp} for cron, counting and seeking through the missed ticks instead of
 * walking them one croner call each (a day of `* * * * * *` is 86,400 calls, seconds of a
 * blocked event loop); null when the walk had to stop short.
 */
function planCron(schedule: CronSchedule, firstMissed: number, newest: number, oldestInWindow: number, runLimit: number): CatchUpPlan | null {
  const all = new CronTickWalker(schedule, firstMissed, newest);
  const missed = 1 + all.skip(MAX_COUNT - 1);
  if (all.truncated || missed >= MAX_COUNT) return null;
  let inWindow = 0;
  if (runLimit > 0 && newest >= oldestInWindow) {
    if (firstMissed >= oldestInWindow) inWindow = missed;
    else {
      // How many run is all that matters here: count no further.
      const window = new CronTickWalker(schedule, nextCronTick(schedule, oldestInWindow - 1, newest) as number, newest);
      inWindow = 1 + window.skip(runLimit - 1);
      if (window.truncated) return null;
    }
  }
  const runs = Math.min(inWindow, runLimit);
  const skipped = missed - runs;
  if (runs === 0) return { run: [], skipped: { first: firstMissed, last: newest, count: skipped } };
  // Seek again from where the count entered its last stretch, when the runs start there.
  const rewound = all.rewound();
  const walker = skipped - 1 >= rewound.moved ? rewound.walker : new CronTickWalker(schedule, firstMissed, newest);
  const base = walker === rewound.walker ? rewound.moved : 0;
  let last = 0;
  if (skipped > 0) {
    walker.skip(skipped - 1 - base);
    last = walker.tick;
    walker.skip(1);
  }
  const run = [walker.tick];
  while (run.length < runs && walker.skip(1) === 1) run.push(walker.tick);
  if (walker.truncated || run.length < runs) return null;
  return { run, skipped: skipped === 0 ? null : { first: firstMissed, last, count: skipped } };
}

/** Ticks in [first, last], where `first` is one; when that is more than can be counted, at least as many as it says. */
function countTicks(schedule: Schedule, first: number, last: number): number {
  if ('intervalMs' in schedule && typeof schedule.intervalMs === 'number') {
    return Math.min(MAX_COUNT, Math.floor((last - first) / schedule.intervalMs) + 1);
  }
  if (schedule instanceof CronSchedule) return 1 + new CronTickWalker(schedule, first, last).skip(MAX_COUNT - 1);
  let count = 1;
  for (let t = schedule.nextAfter(first); t !== null && t <= last && count < MAX_STEPPED_COUNT; t = schedule.nextAfter(t)) count++;
  return count;
}
