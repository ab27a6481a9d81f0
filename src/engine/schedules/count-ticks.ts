import type { CronFieldSets, CronSchedule } from './cron.ts';
import { zoneOffsetMs } from './zoned-time.ts';

/**
 * Counting and seeking through a cron schedule's ticks in time proportional to the days and
 * offset changes they span, not to the ticks: `* * * * * *` after a year down is 31.5 million
 * ticks, and croner takes 30-45 µs for each.
 *
 * Where a zone's UTC offset holds still, local time is real time plus a constant, so the ticks
 * in that stretch are exactly the local times the fields name, counted per day from croner's
 * own field arrays and day matching. Across a change of offset, and wherever that reasoning
 * does not hold, the walk steps with the schedule's own `nextAfter`, so croner's DST rules and
 * the `dst` options decide there, as they do for the running scheduler.
 */

const DAY = 86_400_000;
/**
 * croner tells repeated and missing local times apart by probing 3 hours either side; a change
 * of offset larger than that (the date line moving) is left to it entirely.
 */
const CRONER_DST_WINDOW_MS = 3 * 3_600_000;
/** Longer than croner's window plus the largest fall-back in the tz database (a day, Alaska 1867). */
const SETTLED_MS = 2 * DAY;
/**
 * Calls to `nextAfter` one walk makes at most (about half a second of croner): reached only
 * across a fall-back larger than croner's window (Kwajalein 1969), where counts become lower bounds.
 */
const MAX_STEPS = 10_000;

/** One day's matching times of day, as arithmetic over croner's second, minute and hour arrays. */
class DayTimes {
  readonly perDay: number;
  readonly #hours: number[];
  readonly #minutes: number[];
  readonly #seconds: number[];
  /** Matching values below each value: prefix counts, one longer than the field. */
  readonly #belowHour: Int32Array;
  readonly #belowMinute: Int32Array;
  readonly #belowSecond: Int32Array;
  readonly #hour: readonly number[];
  readonly #minute: readonly number[];

  constructor(fields: CronFieldSets) {
    const values = (field: readonly number[]) => field.flatMap((v, i) => (v ? [i] : []));
    const below = (field: readonly number[]) => {
      const out = new Int32Array(field.length + 1);
      for (let i = 0; i < field.length; i++) out[i + 1] = (out[i] as number) + (field[i] ? 1 : 0);
      return out;
    };
    this.#hours = values(fields.hour);
    this.#minutes = values(fields.minute);
    this.#seconds = values(fields.second);
    this.#belowHour = below(fields.hour);
    this.#belowMinute = below(fields.minute);
    this.#belowSecond = below(fields.second);
    this.#hour = fields.hour;
    this.#minute = fields.minute;
    this.perDay = this.#hours.length * this.#minutes.length * this.#seconds.length;
  }

  /** Matching times of day at or before `second` (0-86399). */
  upTo(second: number): number {
    const h = Math.floor(second / 3600);
    const m = Math.floor(second / 60) % 60;
    const s = second % 60;
    const perHour = this.#minutes.length * this.#seconds.length;
    let count = (this.#belowHour[h] as number) * perHour;
    if (this.#hour[h]) {
      count += (this.#belowMinute[m] as number) * this.#seconds.length;
      if (this.#minute[m]) count += this.#belowSecond[s + 1] as number;
    }
    return count;
  }

  /** The `index`-th (from 0) matching time of day, in seconds. */
  at(index: number): number {
    const ns = this.#seconds.length;
    const perHour = this.#minutes.length * ns;
    const h = this.#hours[Math.floor(index / perHour)] as number;
    const m = this.#minutes[Math.floor(index / ns) % this.#minutes.length] as number;
    const s = this.#seconds[index % ns] as number;
    return h * 3600 + m * 60 + s;
  }
}

const dayTimes = new WeakMap<CronFieldSets, DayTimes>();

/** Offsets of one zone, compared cheaply: the `longOffset` name shows seconds when there are any. */
class ZoneOffsets {
  readonly zone: string;
  /** UTC and the `Etc/GMT±n` zones never change their offset. */
  readonly fixed: boolean;
  readonly #format: Intl.DateTimeFormat;

  constructor(zone: string) {
    this.zone = zone;
    this.fixed = /^(Etc\/)?(UTC|UCT|GMT|GMT[+-]?0|Greenwich|Universal|Zulu)$|^Etc\/GMT[+-]\d{1,2}$/.test(zone);
    this.#format = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' });
  }

  /** A string equal for two instants exactly when the zone's offset is. */
  key(instant: number): string {
    const text = this.#format.format(instant);
    return text.slice(text.lastIndexOf(' ') + 1);
  }

  /**
   * The last instant up to `limit` before the offset at `from` changes, and the size of that
   * change (0 when it holds up to `limit`). Probed every day, then bisected to the millisecond:
   * this assumes no zone changes its offset and back within a day, which holds for every zone
   * in the tz database since 1900 (none changes twice within 48 hours but Riga in 1944, whose
   * two changes do not cancel).
   */
  holdsUntil(from: number, limit: number): { end: number; shift: number } {
    if (this.fixed || limit <= from) return { end: limit, shift: 0 };
    const key = this.key(from);
    let low = from;
    for (;;) {
      const probe = Math.min(low + DAY, limit);
      if (this.key(probe) !== key) {
        let high = probe;
        while (high - low > 1) {
          const mid = low + Math.floor((high - low) / 2);
          if (this.key(mid) === key) low = mid;
          else high = mid;
        }
        return { end: low, shift: zoneOffsetMs(high, this.zone) - zoneOffsetMs(low, this.zone) };
      }
      if (probe === limit) return { end: limit, shift: 0 };
      low = probe;
    }
  }

  /** True when the offset is the same at both instants and a day apart between them (see {@link holdsUntil}). */
  held(from: number, to: number): boolean {
    if (this.fixed) return true;
    const key = this.key(to);
    for (let t = from; t < to; t += DAY) if (this.key(t) !== key) return false;
    return true;
  }
}

const zones = new Map<string, ZoneOffsets>();

function zoneOffsets(zone: string): ZoneOffsets {
  let offsets = zones.get(zone);
  if (offsets === undefined) {
    offsets = new ZoneOffsets(zone);
    zones.set(zone, offsets);
  }
  return offsets;
}

/** A tick reached by counting, or how many ticks were passed without reaching it. */
type Seek = { readonly found: number } | { readonly passed: number; readonly last: number | null };

/**
 * Walks a cron schedule's ticks forward from a tick, never past `limit`: arithmetically through
 * stretches of constant offset, and across the changes between them where croner agrees, with
 * the schedule's `nextAfter` elsewhere.
 */
export class CronTickWalker {
  /** The current tick. */
  tick: number;
  /** Set when the walk stopped at {@link MAX_STEPS} before reaching what it was asked: counts are then lower bounds. */
  truncated = false;
  readonly #schedule: CronSchedule;
  readonly #fields: CronFieldSets;
  readonly #times: DayTimes;
  readonly #zone: ZoneOffsets;
  readonly #limit: number;
  #steps = 0;
  /** Every tick up to here has been passed: the current tick, or the end of a stretch counted through. */
  #from: number;
  /** The stretch after #from: local time is instant + #offset up to #end, and its ticks follow from the fields when #arithmetic. */
  #offset = 0;
  #end = Number.NEGATIVE_INFINITY;
  #arithmetic = false;
  /** The next stretch's ticks follow from the fields from its first instant: no call to croner between the two. */
  #crossing = false;
  #matchDay = Number.NaN;
  #matches = false;
  /** Ticks moved since the start, and where the walk stood when it entered the current stretch. */
  #moved = 0;
  #entry: { readonly moved: number; readonly tick: number; readonly from: number };

  /** `start` must be a tick of `schedule` (or, for an interval expression, any instant: see {@link nextCronTick}). */
  constructor(schedule: CronSchedule, start: number, limit: number) {
    this.#schedule = schedule;
    this.#fields = schedule.fields;
    let times = dayTimes.get(this.#fields);
    if (times === undefined) {
      times = new DayTimes(this.#fields);
      dayTimes.set(this.#fields, times);
    }
    this.#times = times;
    this.#zone = zoneOffsets(schedule.timezone);
    this.#limit = limit;
    this.tick = start;
    this.#from = start;
    this.#entry = { moved: 0, tick: start, from: start };
  }

  /** Moves up to `count` ticks forward, staying at or before the limit; returns how many it moved. */
  skip(count: number): number {
    const moved = this.#skip(count);
    this.#moved += moved;
    return moved;
  }

  /**
   * A walker back where this one entered its current stretch, and how many ticks after the start
   * that was: seeking again near the end of a long walk need not cross its changes of offset again.
   */
  rewound(): { readonly walker: CronTickWalker; readonly moved: number } {
    const walker = new CronTickWalker(this.#schedule, this.#entry.tick, this.#limit);
    walker.#from = this.#entry.from;
    return { walker, moved: this.#entry.moved };
  }

  #skip(count: number): number {
    let moved = 0;
    while (moved < count) {
      if (this.#from >= this.#end) {
        this.#entry = { moved: this.#moved + moved, tick: this.tick, from: this.#from };
        this.#enter();
      }
      if (this.#arithmetic) {
        const seek = this.#seek(this.#from + this.#offset, count - moved, this.#end + this.#offset);
        if ('found' in seek) {
          this.tick = this.#from = seek.found - this.#offset;
          return count;
        }
        moved += seek.passed;
        if (seek.last !== null) this.tick = seek.last - this.#offset;
        this.#from = this.#end;
        if (this.#end >= this.#limit) return moved;
        if (this.#crossing) continue;
      }
      if (this.#steps++ >= MAX_STEPS) {
        this.truncated = true;
        return moved;
      }
      const next = this.#schedule.nextAfter(this.#from);
      if (next === null || next > this.#limit) return moved;
      this.tick = this.#from = next;
      moved++;
    }
    return moved;
  }

  /** Reads the stretch of constant offset that starts just after #from. */
  #enter(): void {
    const zone = this.#zone;
    const start = this.#from + 1;
    this.#offset = zoneOffsetMs(start, zone.zone);
    const { end, shift } = zone.holdsUntil(start, this.#limit);
    // A fall-back larger than croner's window confuses its reading of the local times it
    // repeats, on both sides: leave those to it, and the window either side.
    const largeFallBack = shift < -CRONER_DST_WINDOW_MS;
    this.#end = largeFallBack ? end + shift - CRONER_DST_WINDOW_MS : end;
    this.#arithmetic = this.#end >= start && !this.#largeFallBackBehind(start);
    // croner fires a fixed-time expression at the end of a gap that swallowed it, and the `dst`
    // options apply there: ask the schedule. Interval expressions fire at the local times that
    // exist, so the count goes on into the next stretch (croner would try each missing second
    // of the gap in turn: 60 ms for `* * * * * *`).
    this.#crossing = this.#arithmetic && shift !== 0 && !this.#fields.fixedTime;
    if (!this.#arithmetic) this.#end = this.#from;
  }

  /** True when a fall-back larger than croner's window happened in the {@link SETTLED_MS} before `instant`. */
  #largeFallBackBehind(instant: number): boolean {
    const zone = this.#zone;
    if (zone.fixed || zone.held(instant - SETTLED_MS, instant)) return false;
    const fellBack = (at: number) => zoneOffsetMs(at, zone.zone) - this.#offset > CRONER_DST_WINDOW_MS;
    return fellBack(instant - DAY) || fellBack(instant - SETTLED_MS);
  }

  /**
   * The `count`-th matching local time after `from` and at or before `to` (local times as
   * milliseconds on a UTC clock), or how many there are when fewer, and the last of them.
   */
  #seek(from: number, count: number, to: number): Seek {
    const times = this.#times;
    const fromDay = Math.floor(from / DAY);
    const fromSecond = Math.floor((from - fromDay * DAY) / 1000);
    const toWhole = Math.floor(to / 1000) * 1000;
    const toDay = Math.floor(toWhole / DAY);
    const toSecond = (toWhole - toDay * DAY) / 1000;
    let passed = 0;
    let last: number | null = null;
    for (let day = fromDay; day <= toDay; day++) {
      if (this.#fields.everyDay && day !== fromDay && day < toDay) {
        // Whole days to the end of the month (or to the last day, counted apart): all or none fire.
        const date = new Date(day * DAY);
        const dayOfMonth = date.getUTCDate();
        date.setUTCMonth(date.getUTCMonth() + 1, 0);
        const through = Math.min(toDay - 1, day + date.getUTCDate() - dayOfMonth);
        if (this.#matchesDay(day)) {
          const whole = (through - day + 1) * times.perDay;
          if (whole >= count - passed) {
            const index = count - passed - 1;
            return { found: (day + Math.floor(index / times.perDay)) * DAY + times.at(index % times.perDay) * 1000 };
          }
          passed += whole;
          last = through * DAY + times.at(times.perDay - 1) * 1000;
        }
        day = through;
        continue;
      }
      if (!this.#matchesDay(day)) continue;
      const low = day === fromDay ? times.upTo(fromSecond) : 0;
      const high = day === toDay ? times.upTo(toSecond) : times.perDay;
      if (high <= low) continue;
      if (high - low >= count - passed) return { found: day * DAY + times.at(low + count - passed - 1) * 1000 };
      passed += high - low;
      last = day * DAY + times.at(high - 1) * 1000;
    }
    return { passed, last };
  }

  #matchesDay(day: number): boolean {
    if (day !== this.#matchDay) {
      const date = new Date(day * DAY);
      this.#matchDay = day;
      this.#matches = this.#fields.matchesDate(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate());
    }
    return this.#matches;
  }
}

/**
 * The first tick after `instant` and at or before `limit`, or null. Interval expressions fire at
 * every instant their local time matches, so the walk may start anywhere, and crosses a gap
 * without croner's trying each missing local second (50 ms for `* * * * * *` before the spring
 * change); fixed-time ones ask the schedule, as croner does not walk seconds for them.
 */
export function nextCronTick(schedule: CronSchedule, instant: number, limit: number): number | null {
  if (schedule.fields.fixedTime) {
    const next = schedule.nextAfter(instant);
    return next !== null && next <= limit ? next : null;
  }
  const walker = new CronTickWalker(schedule, instant, limit);
  return walker.skip(1) === 1 ? walker.tick : null;
}

/** Ticks of `schedule` in [first, last], where `first` is one, counting at most `max`; a lower bound when the walk was cut short. */
export function countCronTicks(schedule: CronSchedule, first: number, last: number, max: number): number {
  if (first > last) return 0;
  return 1 + new CronTickWalker(schedule, first, last).skip(max - 1);
}
