import { invalidOption } from '../util/errors.ts';
import { EveryDefinition, EverySchedule } from './schedules/every.ts';
import { parseInstant } from './schedules/parse.ts';
import { WindowedDefinition, WindowedSchedule } from './schedules/windows.ts';
import type { BoundSchedule, ScheduleDefinition } from './schedules/types.ts';

/** What a backfill asks for: a past range of a task's schedule. */
export interface BackfillRange {
  readonly from: string | number | Date;
  readonly to: string | number | Date;
}

/** A checked backfill: its range in Unix ms and the instants it runs, ascending. */
export interface BackfillPlan {
  readonly from: number;
  readonly to: number;
  readonly instants: number[];
  readonly requestedBy: string;
}

/**
 * Checks a backfill request and lists the instants it runs, the same for the scheduler and the
 * CLI. Throws {@link InvalidOptionError} naming `from`, `to` or `by` and the fix: for an instant
 * that does not parse, a range that ends in the future or backwards, one that holds no instant
 * or more than `limit`.
 */
export function planBackfill(task: string, schedule: ScheduleDefinition, bound: BoundSchedule, range: unknown, by: unknown, now: number, limit: number): BackfillPlan {
  const subject = `backfill of task "${task}"`;
  const given = (typeof range === 'object' && range !== null ? range : {}) as { from?: unknown; to?: unknown };
  const from = parseInstant(given.from);
  const to = parseInstant(given.to);
  if (from === undefined) throw invalidOption(subject, 'from', given.from, 'use an instant: an ISO-8601 string with a zone, a Date or Unix ms');
  if (to === undefined) throw invalidOption(subject, 'to', given.to, 'use an instant: an ISO-8601 string with a zone, a Date or Unix ms');
  if (to > now) throw invalidOption(subject, 'to', given.to, `use an instant in the past (now is ${new Date(now).toISOString()}): the schedule runs what is to come`);
  if (from > to) throw invalidOption(subject, 'from', given.from, 'use an instant at or before to');
  if (typeof by !== 'string' || by.length === 0 || by.length > 200 || /[\u0000-\u001f\u007f]/.test(by)) throw invalidOption(subject, 'by', by, 'use a name of 1 to 200 printable characters');
  let instants: number[] | null;
  try {
    instants = backfillInstants(schedule, bound, from, to, limit);
  } catch {
    // The cron library computes no instant that far back (year 0 and before).
    throw invalidOption(subject, 'from', given.from, `is earlier than "${schedule.describe()}" can be computed; use an instant after the year 1000`);
  }
  if (instants === null) throw invalidOption(subject, 'to', given.to, `the range holds more than backfillLimit (${limit}) instants of "${schedule.describe()}": backfill a shorter range, or raise backfillLimit`);
  if (instants.length === 0) throw invalidOption(subject, 'from', given.from, `no instant of "${schedule.describe()}" falls between from and to: widen the range`);
  return { from, to, instants, requestedBy: by };
}

/**
 * The instants of a schedule with `from <= t <= to`, ascending; null when there are more than
 * `limit`. An `every` schedule's grid reaches back before its anchor, so a range from before the
 * task existed runs on the cadence it has now.
 */
export function backfillInstants(schedule: ScheduleDefinition, bound: BoundSchedule, from: number, to: number, limit: number): number[] | null {
  let ticks: BoundSchedule = bound;
  // Windows see the same grid: the instants they keep (or defer) are those of the extended one.
  const inner = schedule instanceof WindowedDefinition ? schedule.inner : schedule;
  if (inner instanceof EveryDefinition && bound.anchor !== null && from < bound.anchor) {
    const steps = Math.ceil((bound.anchor - from) / inner.intervalMs);
    const grid = new EverySchedule(inner.intervalMs, bound.anchor - steps * inner.intervalMs);
    ticks = schedule instanceof WindowedDefinition ? new WindowedSchedule(grid, schedule.set, schedule.outside) : grid;
  }
  const out: number[] = [];
  for (let t = ticks.nextAfter(from - 1); t !== null && t <= to; t = ticks.nextAfter(t)) {
    if (out.length === limit) return null;
    out.push(t);
  }
  return out;
}
