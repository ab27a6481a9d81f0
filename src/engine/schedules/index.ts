import { InvalidOptionError } from '../../util/errors.ts';
import { parseInstant, parseSchedule } from './parse.ts';
import type { ScheduleSpec } from './types.ts';

export { AtSchedule } from './at.ts';
export { CronSchedule, cronSchedule } from './cron.ts';
export { EveryDefinition, EverySchedule } from './every.ts';
export { jitterOffset } from './jitter.ts';
export { checkSchedule, parseInstant, parseSchedule } from './parse.ts';
export type * from './types.ts';

/** Options of {@link nextRuns}. */
export interface NextRunsOptions {
  /** Instant to start after (exclusive). @defaultValue now */
  readonly from?: Date | number | string;
  /** How many instants to return. @defaultValue 5 */
  readonly count?: number;
}

/**
 * The next nominal fire instants of a schedule, without a scheduler. An `every` schedule is
 * anchored at `from` plus its `initialDelay` (or at its fixed `anchor`).
 *
 * @example
 * nextRuns({ cron: '0 2 * * *', timezone: 'Europe/Berlin' }, { count: 3 });
 */
export function nextRuns(spec: ScheduleSpec, options: NextRunsOptions = {}): Date[] {
  const from = options.from === undefined ? Date.now() : parseInstant(options.from);
  if (from === undefined) {
    throw new InvalidOptionError('nextRuns', [{ path: 'from', received: String(options.from), fix: 'use an ISO-8601 instant with a zone, a Date or Unix milliseconds' }]);
  }
  const count = options.count ?? 5;
  if (!Number.isInteger(count) || count < 1 || count > 10_000) {
    throw new InvalidOptionError('nextRuns', [{ path: 'count', received: String(count), fix: 'use a whole number from 1 to 10000' }]);
  }
  const schedule = parseSchedule(spec).bind(null, from);
  const out: Date[] = [];
  // The anchor itself is the first `every` tick, so start just before `from`'s first tick.
  let cursor = schedule.kind === 'every' ? from - 1 : from;
  for (let tick = schedule.nextAfter(cursor); tick !== null && out.length < count; tick = schedule.nextAfter(cursor)) {
    out.push(new Date(tick));
    cursor = tick;
  }
  return out;
}
