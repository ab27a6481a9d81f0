import fc from 'fast-check';
import { type CronSchedule, cronSchedule } from '../../src/engine/schedules/cron.ts';
import { zoneOffsetMs } from '../../src/engine/schedules/zoned-time.ts';

/**
 * Cron schedules and ranges of their ticks for properties that hold counting and seeking
 * through ticks to stepping through them: random expressions (seconds, ranges, steps, lists,
 * L, W, #, nicknames, day-of-month/day-of-week OR and AND), zones with 1 h, 30 min and 45-minute
 * offsets and changes, date-line moves, both `dst` options, and ranges around changes of offset.
 */

const H = 3_600_000;
const DAY = 24 * H;

/** The oracle: one nextAfter per tick, as the scheduler sees them. */
export function stepCount(schedule: CronSchedule, first: number, last: number): number {
  let count = 1;
  for (let t = schedule.nextAfter(first); t !== null && t <= last; t = schedule.nextAfter(t)) count++;
  return count;
}

export function stepList(schedule: CronSchedule, first: number, last: number): number[] {
  const out = [first];
  for (let t = schedule.nextAfter(first); t !== null && t <= last; t = schedule.nextAfter(t)) out.push(t);
  return out;
}

/** Instants where the zone's offset changes in [from, to): probes every 6 hours, bisected to the second. */
function transitions(zone: string, from: number, to: number): number[] {
  const out: number[] = [];
  const step = 6 * H;
  let previous = zoneOffsetMs(from, zone);
  for (let t = from + step; t < to; t += step) {
    const offset = zoneOffsetMs(t, zone);
    if (offset === previous) continue;
    let [low, high] = [t - step, t];
    while (high - low > 1000) {
      const mid = low + Math.floor((high - low) / 2000) * 1000;
      if (zoneOffsetMs(mid, zone) === previous) low = mid;
      else high = mid;
    }
    out.push(high);
    previous = offset;
  }
  return out;
}

const year = (y: number) => Date.UTC(y, 0, 1);
/** Zones with 1 h, 30 min (Lord Howe), 45-minute offsets (Kathmandu, Chatham), 3 h (Casey) and date-line (Apia, Kwajalein) changes. */
const ZONES: readonly (readonly [string, number, number])[] = [
  ['UTC', year(2025), year(2027)],
  ['Europe/Berlin', year(2025), year(2027)],
  ['America/New_York', year(2025), year(2027)],
  ['Australia/Lord_Howe', year(2025), year(2027)],
  ['Asia/Kathmandu', year(1985), year(1987)],
  ['Pacific/Chatham', year(2025), year(2027)],
  ['Antarctica/Casey', year(2009), year(2012)],
  ['Pacific/Apia', year(2011), year(2012)],
  ['Pacific/Kwajalein', year(1969), year(1970)],
  ['America/Sitka', Date.UTC(1867, 6), Date.UTC(1868, 6)],
];
const ANCHORS = ZONES.map(([zone, from, to]) => [zone, [from, ...transitions(zone, from, to)]] as const);

const int = (min: number, max: number) => fc.integer({ min, max });
/** Uniform in [0, 1]: fc.double crowds near 0. */
export const fraction = int(0, 10_000).map((n) => n / 10_000);

/** One cron field: `*`, a value, a range, steps, or a list. */
function field(min: number, max: number, names: readonly string[] = [], star = 3): fc.Arbitrary<string> {
  const value = int(min, max).map(String);
  const named = names.length === 0 ? value : fc.oneof(value, fc.constantFrom(...names));
  const range = fc.tuple(int(min, max), int(min, max)).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`);
  const step = int(1, Math.min(max - min + 1, 30)).map((n) => `*/${n}`);
  const rangeStep = fc.tuple(int(min, max), int(min, max), int(1, 10)).map(([a, b, n]) => `${Math.min(a, b)}-${Math.max(a, b)}/${n}`);
  const item = fc.oneof(named, range, rangeStep);
  return fc.oneof(
    { weight: star, arbitrary: fc.constant('*') },
    { weight: 1, arbitrary: named },
    { weight: 1, arbitrary: range },
    { weight: 1, arbitrary: step },
    { weight: 1, arbitrary: rangeStep },
    { weight: 1, arbitrary: fc.array(item, { minLength: 2, maxLength: 3 }).map((xs) => xs.join(',')) },
  );
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const dayOfMonth = fc.oneof(
  { weight: 6, arbitrary: field(1, 31, [], 6) },
  { weight: 1, arbitrary: fc.constantFrom('L', 'LW', '?', '15W', '1W', '31W') },
  { weight: 1, arbitrary: fc.tuple(int(1, 28), fc.constantFrom('L', '')).map(([d, l]) => (l === '' ? `${d}W` : `${d},L`)) },
);
const dayOfWeek = fc.oneof(
  { weight: 6, arbitrary: field(0, 7, WEEKDAYS, 6) },
  { weight: 1, arbitrary: fc.tuple(int(0, 6), int(1, 5)).map(([d, n]) => `${d}#${n}`) },
  { weight: 1, arbitrary: fc.tuple(int(0, 6), fc.constantFrom('L', '#5', '#1')).map(([d, x]) => `${d}${x}`) },
  { weight: 1, arbitrary: fc.constantFrom('MON-FRI', '?', '+MON-FRI', '+5#5', '1,5L') },
);
const fields = fc.tuple(
  fc.option(field(0, 59, [], 1), { nil: undefined }),
  field(0, 59, [], 2),
  field(0, 23, [], 2),
  dayOfMonth,
  field(1, 12, MONTHS, 6),
  dayOfWeek,
);
/** One time of day in the hours clocks change (fixed-time: croner's and the `dst` options' own rules apply). */
const mostlyEvery = (arbitrary: fc.Arbitrary<string>) => fc.oneof({ weight: 4, arbitrary: fc.constant('*') }, { weight: 1, arbitrary });
const fixedTime = fc
  .tuple(fc.option(int(0, 59), { nil: undefined }), int(0, 59), fc.constantFrom(0, 1, 2, 2, 2, 3, 23), mostlyEvery(dayOfMonth), mostlyEvery(field(1, 12, MONTHS)), mostlyEvery(dayOfWeek))
  .map((f) => f.filter((x) => x !== undefined).join(' '));
const expression = fc.oneof(
  { weight: 12, arbitrary: fields.map((f) => f.filter((x) => x !== undefined).join(' ')) },
  { weight: 4, arbitrary: fixedTime },
  { weight: 1, arbitrary: fc.constantFrom('@hourly', '@daily', '@weekly', '@monthly', '@yearly', '0 0 29 2 *', '0 0 L * *', '0 0 * * 5#5', '* * 22-23 * 8 *') },
);

export const valid = (expr: string, zone: string, gap: 'shift' | 'skip', overlap: 'once' | 'both'): CronSchedule | null => {
  try {
    return cronSchedule(expr, zone, gap, overlap);
  } catch {
    return null;
  }
};

/** Ticks a day on average, from the fields and a year of matching days: sizes ranges the oracle walks quickly. */
function ticksPerDay(schedule: CronSchedule): number {
  const f = schedule.fields;
  const n = (a: readonly number[]) => a.filter(Boolean).length;
  let days = 0;
  for (let d = 0; d < 366; d++) {
    const date = new Date(Date.UTC(2026, 0, 1) + d * DAY);
    if (f.matchesDate(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate())) days++;
  }
  return (n(f.second) * n(f.minute) * n(f.hour) * Math.max(days, 1)) / 366;
}

/** A schedule and a range [first, last] of its ticks, near a change of offset more often than not. */
export const scenario = fc
  .record({
    expr: expression,
    zone: fc.constantFrom(...ANCHORS),
    gap: fc.constantFrom('shift' as const, 'skip' as const),
    overlap: fc.constantFrom('once' as const, 'both' as const),
    anchorIndex: fc.nat(),
    before: fraction,
    after: fraction,
    maxTicks: fc.constantFrom(50, 400, 1500),
  })
  .map(({ expr, zone: [zone, anchors], gap, overlap, anchorIndex, before, after, maxTicks }) => ({ expr, zone, gap, overlap, anchor: anchors[anchorIndex % anchors.length] as number, before, after, maxTicks }));

/** A range around the anchor (mostly a change of offset) holding about `maxTicks` ticks at most. */
export function rangeOf(schedule: CronSchedule, s: { anchor: number; before: number; after: number; maxTicks: number }): [number, number] | null {
  const span = Math.min(400 * DAY, (s.maxTicks / ticksPerDay(schedule)) * DAY) / 2;
  const first = schedule.nextAfter(Math.floor(s.anchor - s.before * span));
  if (first === null) return null;
  return [first, Math.max(first, Math.floor(s.anchor + s.after * span))];
}

export const seed = Number(process.env.PROPERTY_SEED ?? 20260713);
export const numRuns = Number(process.env.PROPERTY_RUNS ?? 300);
