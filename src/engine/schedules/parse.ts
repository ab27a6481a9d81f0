import { DURATION_HINT, parseDuration } from '../../util/duration.ts';
import { describeValue, InvalidOptionError, type OptionIssue } from '../../util/errors.ts';
import { unknownKeyFix } from '../../util/suggest.ts';
import { AtSchedule } from './at.ts';
import { cronSchedule, evictCronSchedule, sharedCronSchedule } from './cron.ts';
import { cronProblem } from './cron-fields.ts';
import { EveryDefinition } from './every.ts';
import { MAX_DATE_MS, type ScheduleDefinition } from './types.ts';
import { isValidTimeZone } from './zoned-time.ts';

/** How far before now a new cron expression's first tick is looked for when it is checked. */
const VALIDATE_FROM_MS = 2_000;

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/i;
const INSTANT_HINT = 'use an ISO-8601 instant with a zone, like "2026-12-01T02:00:00Z", a Date, or Unix milliseconds';

/**
 * Reads an instant: an ISO-8601 string that names its zone (`Z` or an offset), a valid Date,
 * or Unix milliseconds. Strings without a zone are refused, because replicas in different zones
 * would read them differently.
 */
export function parseInstant(value: unknown): number | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.getTime();
  // Beyond ±8.64e15 ms a Date cannot hold the instant (and run records could not show it).
  if (typeof value === 'number') return Number.isFinite(value) && Math.abs(value) <= MAX_DATE_MS ? Math.round(value) : undefined;
  if (typeof value === 'string' && ISO_INSTANT.test(value.trim())) {
    const text = value.trim();
    const ms = Date.parse(text);
    return Number.isNaN(ms) || !realCalendarTime(text) ? undefined : ms;
  }
  return undefined;
}

/**
 * Date.parse rolls some impossible fields over (`2025-02-30` is read as March 2, `T24:00` as the
 * next day): a date and time as written must exist, so a typo is refused, not run at another time.
 */
function realCalendarTime(text: string): boolean {
  const [, y, mo, d, h, mi, s] = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(text) ?? [];
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s ?? '0'].map(Number) as [number, number, number, number, number, number];
  // setUTCFullYear, not Date.UTC: years 0 to 99 are not read as 1900 to 1999.
  const daysInMonth = new Date(new Date(0).setUTCFullYear(year, month, 0)).getUTCDate();
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour <= 23 && minute <= 59 && second <= 59;
}

/** Longest interval or initial delay: a century keeps every tick a Date can hold. */
const MAX_INTERVAL_MS = 100 * 365.25 * 24 * 3_600_000;

const KINDS = ['every', 'cron', 'at'] as const;
const EVERY_KEYS = ['every', 'initialDelay', 'anchor'] as const;
const CRON_KEYS = ['cron', 'timezone', 'dst'] as const;
const AT_KEYS = ['at'] as const;
const DST_KEYS = ['gap', 'overlap'] as const;

type Issues = OptionIssue[];

function issue(issues: Issues, path: string, value: unknown, fix: string): void {
  issues.push({ path, received: describeValue(value), fix });
}

function checkKeys(issues: Issues, path: string, value: object, known: readonly string[]): void {
  for (const key in value) {
    if (Object.hasOwn(value, key) && !known.includes(key)) {
      issue(issues, `${path}.${key}`, (value as Record<string, unknown>)[key], unknownKeyFix(key, known));
    }
  }
}

/** The schedule kinds a spec names; counted without allocating, since every task is checked. */
function kindOf(spec: object): (typeof KINDS)[number] | 'none' | 'several' {
  let found: (typeof KINDS)[number] | 'none' | 'several' = 'none';
  for (const kind of KINDS) {
    if (kind in spec) found = found === 'none' ? kind : 'several';
  }
  return found;
}

/**
 * Validates a schedule spec. Returns the definition, or the problems found (each naming its
 * field path under `path`, the value received and the fix). Never throws.
 */
export function checkSchedule(spec: unknown, path = 'schedule'): ScheduleDefinition | Issues {
  // Nearly every spec is valid: its issues are gathered in one array kept for the purpose, and
  // only problems get an array of their own (100,000 tasks registered, 100,000 arrays fewer).
  // The array is lent, not shared: a check made from inside another (a spec's getter) gets its own.
  const issues = spared ?? [];
  spared = null;
  try {
    const result = checkInto(issues, spec, path);
    return issues.length === 0 && !Array.isArray(result) ? result : issues.slice();
  } finally {
    // Emptied even when a spec's getter threw, or the next spec would inherit its issues.
    issues.length = 0;
    spared = issues;
  }
}

/** Where {@link checkSchedule} gathers issues; empty when returned, null while lent. */
let spared: Issues | null = [];

/** Checks `spec` into `issues`; the definition when it holds. */
function checkInto(issues: Issues, spec: unknown, path: string): ScheduleDefinition | Issues {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    issue(issues, path, spec, 'expected an object like { every: "5m" }, { cron: "0 2 * * *" } or { at: "2026-12-01T02:00:00Z" }');
    return issues;
  }
  const kind = kindOf(spec);
  if (kind === 'none' || kind === 'several') {
    const present = KINDS.filter((k) => k in spec);
    const fix = kind === 'none' ? 'give exactly one of "every", "cron" or "at"' : `give only one of ${present.map((k) => `"${k}"`).join(', ')}`;
    issue(issues, path, spec, fix);
    if (kind === 'none') checkKeys(issues, path, spec, [...EVERY_KEYS, ...CRON_KEYS, ...AT_KEYS]);
    return issues;
  }
  const record = spec as Record<string, unknown>;
  let definition: ScheduleDefinition | undefined;
  switch (kind) {
    case 'every':
      checkKeys(issues, path, spec, EVERY_KEYS);
      definition = checkEvery(issues, path, record);
      break;
    case 'cron':
      checkKeys(issues, path, spec, CRON_KEYS);
      definition = checkCron(issues, path, record);
      break;
    case 'at':
      checkKeys(issues, path, spec, AT_KEYS);
      definition = checkAt(issues, path, record);
      break;
  }
  return issues.length === 0 && definition !== undefined ? definition : issues;
}

/**
 * Validates a schedule spec and returns its definition; throws {@link InvalidOptionError}.
 *
 * @example
 * parseSchedule({ cron: '0 2 * * *', timezone: 'Europe/Berlin' }).describe();
 */
export function parseSchedule(spec: unknown, subject = 'schedule'): ScheduleDefinition {
  const result = checkSchedule(spec);
  if (Array.isArray(result)) throw new InvalidOptionError(subject, result);
  return result;
}

function checkEvery(issues: Issues, path: string, spec: Record<string, unknown>): EveryDefinition | undefined {
  const interval = parseDuration(spec.every);
  if (interval === undefined || interval < 1) {
    issue(issues, `${path}.every`, spec.every, interval === 0 ? 'the interval must be at least 1ms' : `is not a duration; ${DURATION_HINT}`);
  } else if (interval > MAX_INTERVAL_MS) {
    issue(issues, `${path}.every`, spec.every, 'the interval must be at most 100 years; for a one-off, use { at: <instant> }');
  }
  const initialDelay = spec.initialDelay === undefined ? 0 : parseDuration(spec.initialDelay);
  if (initialDelay === undefined) issue(issues, `${path}.initialDelay`, spec.initialDelay, `is not a duration; ${DURATION_HINT}`);
  else if (initialDelay > MAX_INTERVAL_MS) issue(issues, `${path}.initialDelay`, spec.initialDelay, 'must be at most 100 years');
  let anchor: number | null = null;
  if (spec.anchor !== undefined) {
    const parsed = parseInstant(spec.anchor);
    if (parsed === undefined) issue(issues, `${path}.anchor`, spec.anchor, `is not an instant; ${INSTANT_HINT}`);
    else anchor = parsed;
    if (spec.initialDelay !== undefined) {
      issue(issues, `${path}.initialDelay`, spec.initialDelay, 'cannot be combined with "anchor"; the anchor fixes the first tick, so remove one');
    }
  }
  if (interval === undefined || interval < 1 || interval > MAX_INTERVAL_MS || initialDelay === undefined || initialDelay > MAX_INTERVAL_MS) return undefined;
  return everyDefinition(interval, initialDelay, anchor);
}

const MAX_SHARED_EVERY = 10_000;
/** Shared definitions by interval, then initial delay (fixed anchors are rare and not shared). */
const sharedEvery = new Map<number, Map<number, EveryDefinition>>();

/** Tasks with the same interval and delay share one definition (each binds its own anchor). */
function everyDefinition(interval: number, initialDelay: number, anchor: number | null): EveryDefinition {
  if (anchor !== null) return new EveryDefinition(interval, initialDelay, anchor);
  let byDelay = sharedEvery.get(interval);
  if (byDelay === undefined) {
    if (sharedEvery.size >= MAX_SHARED_EVERY) sharedEvery.clear();
    byDelay = new Map();
    sharedEvery.set(interval, byDelay);
  }
  let definition = byDelay.get(initialDelay);
  if (definition === undefined) {
    definition = new EveryDefinition(interval, initialDelay, null);
    byDelay.set(initialDelay, definition);
  }
  return definition;
}

function checkCron(issues: Issues, path: string, spec: Record<string, unknown>): ScheduleDefinition | undefined {
  const expression = spec.cron;
  const timezone = spec.timezone ?? 'UTC';
  let gap: 'shift' | 'skip' = 'shift';
  let overlap: 'once' | 'both' = 'once';
  if (typeof timezone !== 'string' || !isValidTimeZone(timezone)) {
    issue(issues, `${path}.timezone`, timezone, 'is not an IANA time zone; use e.g. "Europe/Berlin", "America/New_York" or "UTC"');
  }
  if (spec.dst !== undefined) {
    const dst = spec.dst;
    if (typeof dst !== 'object' || dst === null || Array.isArray(dst)) {
      issue(issues, `${path}.dst`, dst, 'expected an object like { gap: "skip", overlap: "both" }');
    } else {
      checkKeys(issues, `${path}.dst`, dst, DST_KEYS);
      const d = dst as Record<string, unknown>;
      if (d.gap !== undefined && d.gap !== 'shift' && d.gap !== 'skip') issue(issues, `${path}.dst.gap`, d.gap, 'use "shift" or "skip"');
      else if (d.gap !== undefined) gap = d.gap;
      if (d.overlap !== undefined && d.overlap !== 'once' && d.overlap !== 'both') issue(issues, `${path}.dst.overlap`, d.overlap, 'use "once" or "both"');
      else if (d.overlap !== undefined) overlap = d.overlap;
    }
  }
  if (typeof expression !== 'string' || expression.trim() === '') {
    issue(issues, `${path}.cron`, expression, 'expected a cron expression like "0 2 * * *" (minute hour day-of-month month day-of-week)');
    return undefined;
  }
  if (issues.length > 0) return undefined;
  // The exact text seen before (the common case: many tasks, few expressions) needs no checks.
  const known = sharedCronSchedule(expression, timezone as string, gap, overlap);
  if (known !== undefined) return known;
  const normalised = expression.trim().replace(/\s+/g, ' ');
  try {
    const schedule = cronSchedule(normalised, timezone as string, gap, overlap);
    // Asked from a little before now: a five- or six-field expression repeats every year, so
    // this says as well whether it ever fires again, and the answer is the one the scheduler
    // asks for when it starts the task (its first tick, looked for from a second before start),
    // which the schedule's memo then has: one croner evaluation per new expression, not two.
    if (schedule.nextAfter(Date.now() - VALIDATE_FROM_MS) === null) {
      // Not kept for sharing: a later task with the same text must get the same error.
      evictCronSchedule(schedule);
      issue(issues, `${path}.cron`, expression, 'never matches a future date; check the day and month fields (e.g. February has no 30th)');
      return undefined;
    }
    return schedule;
  } catch {
    // croner's own wording names its internals ("dayOfWeek", "mode '5-or-6-parts'"); ours names the field and the fix.
    issue(issues, `${path}.cron`, expression, cronProblem(normalised));
    return undefined;
  }
}

function checkAt(issues: Issues, path: string, spec: Record<string, unknown>): AtSchedule | undefined {
  const instant = parseInstant(spec.at);
  if (instant === undefined) {
    issue(issues, `${path}.at`, spec.at, `is not an instant; ${INSTANT_HINT}`);
    return undefined;
  }
  return new AtSchedule(instant);
}
