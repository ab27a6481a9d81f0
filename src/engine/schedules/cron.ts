import { Cron, CronDate, type CronOptions, CronPattern } from 'croner';
import { describeCron } from './cron-describe.ts';
import type { BoundSchedule, ScheduleDefinition } from './types.ts';
import { sameWallTime, zonedFields, zoneOffsetMs } from './zoned-time.ts';

/** Five fields, or six with seconds first; croner also reads nicknames such as `@daily`. */
export const CRON_MODE = '5-or-6-parts';

/** Longer than any daylight-saving shift in the tz database (Troll's is 2 h). */
const DST_WINDOW_MS = 3 * 3_600_000;

/**
 * Croner keeps a year table of 10,000 numbers in every pattern (80 KB); expressions without a
 * year field (all of ours: 5 or 6 fields) have the same one, so they share this one.
 */
const EVERY_YEAR: readonly number[] = Object.freeze(Array.from({ length: 10_000 }, () => 1));

/** The pattern croner evaluates for `job`, with its year table shared; a pattern of its own if croner's internals ever move. */
function compactPattern(job: Cron, expression: string, timezone: string): CronPattern {
  const own = (job as unknown as { _states?: { pattern?: unknown } })._states?.pattern;
  const pattern = own instanceof CronPattern ? own : new CronPattern(expression, timezone, { mode: CRON_MODE });
  if (pattern.starYear && Array.isArray(pattern.year) && pattern.year.length === EVERY_YEAR.length) pattern.year = EVERY_YEAR as number[];
  return pattern;
}

/** croner's reading of an expression's fields, for arithmetic over its ticks (see count-ticks.ts). */
export interface CronFieldSets {
  /** Truthy where the value fires: 60 seconds, 60 minutes, 24 hours. croner's own arrays: do not write. */
  readonly second: readonly number[];
  readonly minute: readonly number[];
  readonly hour: readonly number[];
  /** croner's fixed-time rule (one second, minute and hour): it keeps such expressions on the wall clock across DST. */
  readonly fixedTime: boolean;
  /** croner fires on every day of the months it names (day-of-week `*`, every day-of-month), so a month counts whole. */
  readonly everyDay: boolean;
  /** True when croner fires on this local date (month 1-12), at the times the fields above name. */
  matchesDate(year: number, month: number, day: number): boolean;
}

/** Day matching through croner's own CronDate.match, so L, W, # and the day-of-month/day-of-week OR stay croner's. */
function fieldSets(pattern: CronPattern, options: CronOptions): CronFieldSets {
  const date = new CronDate(new Date(0), 0);
  const [second, minute, hour] = [pattern.second.indexOf(1), pattern.minute.indexOf(1), pattern.hour.indexOf(1)];
  return {
    second: pattern.second,
    minute: pattern.minute,
    hour: pattern.hour,
    fixedTime: pattern.isFixedTime,
    // With day-of-week `*` croner tests the day-of-month array alone (L, W and LW only add days to it).
    everyDay: pattern.starDOW && pattern.day.every((v) => v === 1),
    matchesDate(year: number, month: number, day: number): boolean {
      date.year = year;
      date.month = month - 1;
      date.day = day;
      date.hour = hour;
      date.minute = minute;
      date.second = second;
      return date.match(pattern, options);
    },
  };
}

/**
 * A cron expression in a time zone, evaluated by croner. Instances are shared between tasks
 * with the same expression, zone and DST options (see {@link cronSchedule}), and the last
 * answer is memoised, so 100,000 tasks on 100 expressions cost 100 croner evaluations per tick.
 *
 * Croner treats fixed-time expressions (one second, minute and hour, e.g. `30 2 * * *`) as
 * wall-clock appointments: a time in a spring-forward gap runs at the first instant after the
 * gap, and a time repeated at fall-back runs once. `dst` selects the other behaviours. Interval
 * expressions (every 15 minutes, hourly on the hour) follow real elapsed time: they skip
 * instants that do not exist and run at both occurrences of a repeated hour; `dst` does not
 * apply to them.
 */
export class CronSchedule implements ScheduleDefinition, BoundSchedule {
  readonly kind = 'cron';
  readonly key: string;
  readonly anchor = null;
  readonly expression: string;
  readonly timezone: string;
  readonly gap: 'shift' | 'skip';
  readonly overlap: 'once' | 'both';
  readonly #job: Cron;
  readonly #pattern: CronPattern;
  readonly #adjustDst: boolean;
  #memoFrom = Number.NaN;
  #memoTo: number | null = null;
  #text: string | undefined;
  #fields: CronFieldSets | undefined;

  /** Throws croner's error for an invalid expression or zone: callers word it (see cronProblem). */
  constructor(expression: string, timezone: string, gap: 'shift' | 'skip', overlap: 'once' | 'both') {
    this.expression = expression;
    this.timezone = timezone;
    this.gap = gap;
    this.overlap = overlap;
    this.key = cronKey(expression, timezone, gap, overlap);
    this.#job = new Cron(expression, { timezone, paused: true, mode: CRON_MODE });
    this.#pattern = compactPattern(this.#job, expression, timezone);
    this.#adjustDst = this.#pattern.isFixedTime && (gap === 'skip' || overlap === 'both');
  }

  get spec(): { cron: string; timezone: string; dst?: { gap: 'shift' | 'skip'; overlap: 'once' | 'both' } } {
    const dst = this.gap !== 'shift' || this.overlap !== 'once' ? { dst: { gap: this.gap, overlap: this.overlap } } : {};
    return { cron: this.expression, timezone: this.timezone, ...dst };
  }

  initialAnchor(): null {
    return null;
  }

  bind(): CronSchedule {
    return this;
  }

  nextAfter(instant: number): number | null {
    // The memo holds "no tick in (from, to) and `to` is a tick", so it answers every instant
    // in [from, to), and every instant from `from` on when there are no more ticks.
    if (instant >= this.#memoFrom && (this.#memoTo === null || instant < this.#memoTo)) return this.#memoTo;
    const next = this.#compute(instant);
    this.#memoFrom = instant;
    this.#memoTo = next;
    return next;
  }

  previousBefore(instant: number): number | null {
    // Croner walks backwards field by field: as fast for a tick a year back as for one a second
    // back (stepping forward through a window cost seconds for sparse expressions).
    const candidate = this.#job.previousRuns(1, new Date(instant))[0]?.getTime() ?? null;
    if (!this.#adjustDst) return candidate;
    // The DST options apply going forward: walk forward to `instant` from a window before
    // croner's answer wide enough to hold a shifted or repeated occurrence, doubling if needed.
    const start = candidate === null ? 1_000 : Math.max(1_000, instant - candidate + DST_WINDOW_MS);
    for (let window = start; window <= 8 * 366 * 86_400_000; window *= 2) {
      let tick = this.nextAfter(instant - window);
      if (tick === null) return null;
      if (tick >= instant) continue;
      for (let next = this.nextAfter(tick); next !== null && next < instant; next = this.nextAfter(tick)) {
        tick = next;
      }
      return tick;
    }
    return null;
  }

  /** croner's reading of the fields, made on first use (catch-up counts ticks with it instead of walking them). */
  get fields(): CronFieldSets {
    this.#fields ??= fieldSets(this.#pattern, this.#job.options);
    return this.#fields;
  }

  /** In words with the zone, e.g. "at 02:00 every day, Europe/Berlin"; kept, since tasks() asks for every task. */
  describe(): string {
    this.#text ??= describeCron(this.expression, this.timezone);
    return this.#text;
  }

  #croner(after: number): number | null {
    return this.#job.nextRun(new Date(after))?.getTime() ?? null;
  }

  #compute(instant: number): number | null {
    let next = this.#croner(instant);
    if (!this.#adjustDst) return next;
    if (this.gap === 'skip') {
      while (next !== null && !this.#matchesWallTime(next)) next = this.#croner(next);
    }
    if (this.overlap === 'both') {
      const second = this.#secondOccurrenceAfter(instant);
      if (second !== null && (next === null || second < next)) next = second;
    }
    return next;
  }

  /** True when the instant's local time is one the expression names (not a gap shift). */
  #matchesWallTime(instant: number): boolean {
    const f = zonedFields(instant, this.timezone);
    return this.#pattern.hour[f.hour] === 1 && this.#pattern.minute[f.minute] === 1 && this.#pattern.second[f.second] === 1;
  }

  /** The repeat, after `instant`, of a local time that fired shortly before a fall-back. */
  #secondOccurrenceAfter(instant: number): number | null {
    let best: number | null = null;
    for (let fire = this.#croner(instant - DST_WINDOW_MS); fire !== null && fire <= instant; fire = this.#croner(fire)) {
      const shift = zoneOffsetMs(fire, this.timezone) - zoneOffsetMs(fire + DST_WINDOW_MS, this.timezone);
      if (shift <= 0) continue;
      const repeat = fire + shift;
      if (repeat > instant && sameWallTime(fire, repeat, this.timezone) && (best === null || repeat < best)) best = repeat;
    }
    return best;
  }
}

/** The persisted identity of a cron schedule. Printable: PostgreSQL text and JSON refuse NUL. */
function cronKey(expression: string, timezone: string, gap: string, overlap: string): string {
  return `cron:${expression}|${timezone}|${gap}|${overlap}`;
}

const MAX_SHARED = 10_000;
const shared = new Map<string, CronSchedule>();

/** Drops a schedule from sharing (one found invalid after it was made). */
export function evictCronSchedule(schedule: CronSchedule): void {
  if (shared.get(schedule.key) === schedule) shared.delete(schedule.key);
}

/** The shared schedule if one exists already; it was validated when it was made. */
export function sharedCronSchedule(expression: string, timezone: string, gap: 'shift' | 'skip', overlap: 'once' | 'both'): CronSchedule | undefined {
  return shared.get(cronKey(expression, timezone, gap, overlap));
}

/**
 * The shared schedule for an expression, zone and DST options: parsed once, then reused by
 * every task that names it. Throws croner's error for an invalid expression.
 */
export function cronSchedule(
  expression: string,
  timezone: string,
  gap: 'shift' | 'skip' = 'shift',
  overlap: 'once' | 'both' = 'once',
): CronSchedule {
  const key = cronKey(expression, timezone, gap, overlap);
  let schedule = shared.get(key);
  if (schedule === undefined) {
    schedule = new CronSchedule(expression, timezone, gap, overlap);
    // Bounded so a process that invents expressions forever cannot grow this without limit;
    // evicted schedules stay valid for the tasks holding them, they are just no longer shared.
    if (shared.size >= MAX_SHARED) shared.delete(shared.keys().next().value as string);
    shared.set(key, schedule);
  }
  return schedule;
}
