import type { BoundSchedule, ScheduleDefinition, ScheduleSpec } from './types.ts';
import { zonedFields, zoneOffsetMs } from './zoned-time.ts';

/** A weekly time window in a zone, e.g. weekdays from 01:00 to 05:00 in Europe/Berlin. */
export interface TimeWindowSpec {
  /** Days the window starts on: `mon-fri`, `sat,sun`, `mon,wed-fri`, or `*`. @defaultValue every day */
  readonly days?: string;
  /** Local start time, `HH:MM`. */
  readonly from: string;
  /** Local end time, `HH:MM` (exclusive); before `from`, the window ends the next day. */
  readonly to: string;
  /** IANA time zone. @defaultValue 'UTC' */
  readonly timezone?: string;
}

/** What a tick outside the windows (or inside a blackout) becomes. */
export type OutsidePolicy = 'defer' | 'skip';

/** A parsed window: the days it starts on (0 = Sunday), and minutes of the day. */
export interface TimeWindow {
  readonly days: ReadonlySet<number>;
  readonly fromMin: number;
  readonly toMin: number;
  readonly timezone: string;
  /** As written, for descriptions and JSON. */
  readonly spec: TimeWindowSpec;
}

const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
const DAY_MS = 86_400_000;
/** Windows repeat weekly: a week and a day of local dates always holds the next start. */
const DAYS_AHEAD = 8;
/** A schedule whose instants never meet its windows stops looking after this many windows. */
const MAX_JUMPS = 400;

export const DAYS_HINT = 'use day names like "mon-fri", "sat,sun", "mon,wed-fri" or "*"';
export const TIME_HINT = 'use a local time "HH:MM" from 00:00 to 24:00';

/** The days a `days` string names, or a problem. */
export function parseDays(text: string | undefined): ReadonlySet<number> | string {
  if (text === undefined || text.trim() === '*') return new Set([0, 1, 2, 3, 4, 5, 6]);
  const days = new Set<number>();
  for (const part of text.toLowerCase().split(',')) {
    const [a, b, ...rest] = part.trim().split('-');
    const from = DAY_NAMES.indexOf(a?.slice(0, 3) as (typeof DAY_NAMES)[number]);
    const to = b === undefined ? from : DAY_NAMES.indexOf(b.slice(0, 3) as (typeof DAY_NAMES)[number]);
    if (rest.length > 0 || from < 0 || to < 0 || !isDayName(a) || (b !== undefined && !isDayName(b))) return `"${part.trim()}" is not a day or a range of days`;
    // A range wraps the week: fri-mon is Friday to Monday.
    for (let d = from; ; d = (d + 1) % 7) {
      days.add(d);
      if (d === to) break;
    }
  }
  return days;
}

function isDayName(text: string | undefined): boolean {
  return text !== undefined && /^(sun|mon|tue|wed|thu|fri|sat)[a-z]*$/.test(text) && (text.length === 3 || ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'].includes(text));
}

/** Minutes of the day from `HH:MM`, or null. `24:00` is the end of the day. */
export function parseClock(text: string): number | null {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text.trim());
  if (m === null) return null;
  const minutes = Number(m[1]) * 60 + Number(m[2]);
  return Number(m[2]) < 60 && minutes <= 24 * 60 ? minutes : null;
}

/** The instant a local date and minute of the day fall on; a time in a spring-forward gap moves to the gap's end, one that occurs twice is its first. */
export function instantOfLocal(year: number, month: number, day: number, minutes: number, timeZone: string): number {
  const utc = Date.UTC(year, month - 1, day, 0, minutes);
  const before = zoneOffsetMs(utc - DAY_MS / 2, timeZone);
  const after = zoneOffsetMs(utc + DAY_MS / 2, timeZone);
  const candidates = [utc - Math.max(before, after), utc - Math.min(before, after)].filter((c) => utc - c === zoneOffsetMs(c, timeZone));
  if (candidates.length > 0) return Math.min(...candidates);
  // In a gap: the transition, found to the second between the two readings.
  let lo = utc - Math.max(before, after);
  let hi = utc - Math.min(before, after);
  while (hi - lo > 1_000) {
    const mid = Math.floor((lo + hi) / 2000) * 1000;
    if (zoneOffsetMs(mid, timeZone) === before) lo = mid;
    else hi = mid;
  }
  return hi;
}

interface Interval {
  readonly start: number;
  readonly end: number;
}

/**
 * Where runs may happen: inside any window (everywhere when there are none) and inside no
 * blackout. Pure: every answer comes from the zone rules, not the clock.
 */
export class WindowSet {
  readonly windows: readonly TimeWindow[];
  readonly blackouts: readonly TimeWindow[];
  /** The last interval found, for the many questions about instants inside it. */
  #lastOpen: Interval | null = null;
  /**
   * True once a search found no allowed instant within a week and a day: windows repeat weekly,
   * so none ever comes (windows and blackouts that cover each other). Every answer is then quick.
   */
  #never = false;

  constructor(windows: readonly TimeWindow[], blackouts: readonly TimeWindow[]) {
    this.windows = windows;
    this.blackouts = blackouts;
  }

  /** True when a run may happen at `instant`. */
  allowed(instant: number): boolean {
    if (this.#never) return false;
    const open = this.#lastOpen;
    if (open !== null && instant >= open.start && instant < open.end) return true;
    const window = this.windows.length === 0 ? { start: -Infinity, end: Infinity } : containing(this.windows, instant);
    if (window === null || containing(this.blackouts, instant) !== null) return false;
    // Cached only up to the next blackout start, so the cache never answers for a blackout.
    const nextBlackout = startsAfter(this.blackouts, instant);
    this.#lastOpen = { start: instant, end: Math.min(window.end, nextBlackout ?? Infinity) };
    return true;
  }

  /** The first instant at or after `instant` when a run may happen, or null within a bounded search. */
  nextAllowed(instant: number): number | null {
    if (this.#never) return null;
    let x = instant;
    const horizon = instant + DAYS_AHEAD * DAY_MS;
    for (let i = 0; i < MAX_JUMPS && x <= horizon; i++) {
      if (this.windows.length > 0 && containing(this.windows, x) === null) {
        const start = startsAfter(this.windows, x);
        if (start === null) return null;
        x = start;
        continue;
      }
      const blackout = containing(this.blackouts, x);
      if (blackout !== null) {
        x = blackout.end;
        continue;
      }
      return x;
    }
    this.#never = true;
    return null;
  }
}

/** The window interval containing `instant`, windows that touch or overlap joined into one, or null. */
function containing(windows: readonly TimeWindow[], instant: number): Interval | null {
  let found = containingOne(windows, instant);
  for (let guard = 0; found !== null && guard < 16; guard++) {
    const next = containingOne(windows, found.end);
    if (next === null || next.end <= found.end) break;
    found = { start: found.start, end: next.end };
  }
  return found;
}

/** Of the intervals containing `instant`, the one ending last. */
function containingOne(windows: readonly TimeWindow[], instant: number): Interval | null {
  let found: Interval | null = null;
  for (const w of windows) for (const i of intervalsAround(w, instant, 1, 0)) if (i.start <= instant && instant < i.end && (found === null || i.end > found.end)) found = i;
  return found;
}

/** The earliest start of any window strictly after `instant`, or null. */
function startsAfter(windows: readonly TimeWindow[], instant: number): number | null {
  let best: number | null = null;
  for (const w of windows) {
    for (const i of intervalsAround(w, instant, 1, DAYS_AHEAD)) if (i.start > instant && (best === null || i.start < best)) best = i.start;
  }
  return best;
}

/** A window's intervals starting on the local dates from `back` days before `instant`'s to `ahead` days after. */
function intervalsAround(w: TimeWindow, instant: number, back: number, ahead: number): Interval[] {
  const f = zonedFields(instant, w.timezone);
  const out: Interval[] = [];
  for (let k = -back; k <= ahead; k++) {
    const date = new Date(Date.UTC(f.year, f.month - 1, f.day + k));
    if (!w.days.has(date.getUTCDay())) continue;
    const interval = intervalOn(w, date.getTime());
    if (interval !== null) out.push(interval);
  }
  return out;
}

/** Each window's interval per local date (UTC midnight of the date as the key), computed once: zone lookups are the cost. */
const intervalCache = new WeakMap<TimeWindow, Map<number, Interval | null>>();
const CACHED_DAYS = 512;

function intervalOn(w: TimeWindow, dateMs: number): Interval | null {
  let cache = intervalCache.get(w);
  if (cache === undefined) intervalCache.set(w, (cache = new Map()));
  const hit = cache.get(dateMs);
  if (hit !== undefined) return hit;
  const date = new Date(dateMs);
  const [y, m, d] = [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate()];
  const start = instantOfLocal(y, m, d, w.fromMin, w.timezone);
  const end = w.toMin > w.fromMin ? instantOfLocal(y, m, d, w.toMin, w.timezone) : instantOfLocal(y, m, d + 1, w.toMin, w.timezone);
  const interval = end > start ? { start, end } : null;
  if (cache.size >= CACHED_DAYS) cache.delete(cache.keys().next().value as number);
  cache.set(dateMs, interval);
  return interval;
}

/**
 * A schedule seen through windows. With `skip`, its instants outside them are not ticks; with
 * `defer`, the instants outside one gap between windows become one tick at the next window's
 * start (several missed maintenance ticks need one run, not a queue of them).
 */
export class WindowedSchedule implements BoundSchedule {
  readonly #inner: BoundSchedule;
  readonly #set: WindowSet;
  readonly #outside: OutsidePolicy;
  /** With `skip`: no tick at or after this instant (a schedule that never meets its windows), so none is looked for again. */
  #noneFrom = Number.POSITIVE_INFINITY;

  constructor(inner: BoundSchedule, set: WindowSet, outside: OutsidePolicy) {
    this.#inner = inner;
    this.#set = set;
    this.#outside = outside;
  }

  get kind(): BoundSchedule['kind'] {
    return this.#inner.kind;
  }

  get anchor(): number | null {
    return this.#inner.anchor;
  }

  nextAfter(instant: number): number | null {
    return this.#outside === 'skip' ? this.#nextInside(instant) : this.#nextDeferred(instant);
  }

  #nextInside(instant: number): number | null {
    if (instant >= this.#noneFrom) return null;
    let n = this.#inner.nextAfter(instant);
    for (let i = 0; n !== null && i < MAX_JUMPS; i++) {
      if (this.#set.allowed(n)) return n;
      const open = this.#set.nextAllowed(n);
      if (open === null) break;
      n = this.#inner.nextAfter(open - 1);
    }
    // Bounded: a schedule whose instants never meet the windows has no next tick from here on.
    if (n !== null) this.#noneFrom = Math.min(this.#noneFrom, instant);
    return null;
  }

  /** Ticks: the allowed instants, and each window start that ends a gap holding an instant. */
  #nextDeferred(instant: number): number | null {
    if (!this.#set.allowed(instant)) {
      // Inside a gap: an instant earlier in it is due at the gap's end.
      const end = this.#set.nextAllowed(instant);
      const previous = this.#inner.previousBefore(instant + 1);
      if (end !== null && previous !== null && !this.#set.allowed(previous) && this.#set.nextAllowed(previous) === end) return end;
    }
    const n = this.#inner.nextAfter(instant);
    if (n === null) return null;
    return this.#set.allowed(n) ? n : this.#set.nextAllowed(n);
  }

  /** The last tick before `instant`: bisects over nextAfter, widening the search a bounded number of times. */
  previousBefore(instant: number): number | null {
    for (let span = DAY_MS; span <= 1024 * DAY_MS; span *= 2) {
      const first = this.nextAfter(instant - span - 1);
      if (first === null) return null;
      if (first >= instant) continue;
      // nextAfter(y) < instant exactly for y below the answer: the largest such y is the answer less 1 ms.
      let lo = first - 1;
      let hi = instant - 1;
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        const next = this.nextAfter(mid);
        if (next !== null && next < instant) lo = mid;
        else hi = mid;
      }
      return this.nextAfter(lo);
    }
    return null;
  }
}

/**
 * When a run that is not one of the schedule's own ticks (a catch-up, a dependency run) may
 * start under the task's windows: now (`null`), at a later instant (`outside: 'defer'`), or not
 * at all (`'skip'`).
 */
export function windowGate(schedule: ScheduleDefinition, now: number): { readonly at: number } | 'skip' | null {
  if (!(schedule instanceof WindowedDefinition) || schedule.set.allowed(now)) return null;
  const at = schedule.outside === 'defer' ? schedule.set.nextAllowed(now) : null;
  return at === null ? 'skip' : { at };
}

/** A schedule definition with windows: the same key (windows do not move an `every` anchor). */
export class WindowedDefinition implements ScheduleDefinition {
  readonly inner: ScheduleDefinition;
  readonly set: WindowSet;
  readonly outside: OutsidePolicy;

  constructor(inner: ScheduleDefinition, set: WindowSet, outside: OutsidePolicy) {
    this.inner = inner;
    this.set = set;
    this.outside = outside;
  }

  get kind(): ScheduleDefinition['kind'] {
    return this.inner.kind;
  }

  get key(): string {
    return this.inner.key;
  }

  get spec(): ScheduleSpec {
    return this.inner.spec;
  }

  initialAnchor(now: number): number | null {
    return this.inner.initialAnchor(now);
  }

  bind(persistedAnchor: number | null, now: number): BoundSchedule {
    return new WindowedSchedule(this.inner.bind(persistedAnchor, now), this.set, this.outside);
  }

  describe(): string {
    const text = (w: TimeWindow) => `${w.spec.days ?? 'every day'} ${w.spec.from}–${w.spec.to}${w.timezone === 'UTC' ? '' : ` ${w.timezone}`}`;
    const parts = [this.inner.describe()];
    if (this.set.windows.length > 0) parts.push(`inside ${this.set.windows.map(text).join(', ')}${this.outside === 'defer' ? ' (deferred to the next window)' : ''}`);
    if (this.set.blackouts.length > 0) parts.push(`never ${this.set.blackouts.map(text).join(', ')}`);
    return parts.join(', ');
  }
}
