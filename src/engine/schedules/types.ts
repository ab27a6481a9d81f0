import type { Duration } from '../../util/duration.ts';

/** What to do with a fixed-time cron job around daylight-saving transitions. */
export interface DstOptions {
  /**
   * A local time that does not exist (spring forward): `shift` runs at the first valid instant
   * after the gap; `skip` does not run that day.
   * @defaultValue 'shift'
   */
  readonly gap?: 'shift' | 'skip';
  /**
   * A local time that occurs twice (fall back): `once` runs at the first occurrence; `both` runs
   * at each.
   * @defaultValue 'once'
   */
  readonly overlap?: 'once' | 'both';
}

/** Ticks at `anchor + k·every`; the anchor is persisted, so restarts keep the cadence. */
export interface EverySpec {
  readonly every: Duration;
  /** Delay of the first tick after the task is first seen. @defaultValue 0 */
  readonly initialDelay?: Duration;
  /** A fixed anchor (ISO-8601, Date or Unix ms) to align ticks, e.g. on the hour. */
  readonly anchor?: string | number | Date;
}

/** A cron expression (5 fields, or 6 with seconds first, or a nickname like `@daily`). */
export interface CronSpec {
  readonly cron: string;
  /** IANA time zone the expression is read in. @defaultValue 'UTC' */
  readonly timezone?: string;
  /** Daylight-saving behaviour of fixed-time expressions. */
  readonly dst?: DstOptions;
}

/** A single tick at an instant (ISO-8601 string, Date or Unix ms). */
export interface AtSpec {
  readonly at: string | number | Date;
}

/** No instant of its own: the schedule of a task that only runs `after` others. */
export interface NoScheduleSpec {
  readonly none: true;
}

/** When a task runs. */
export type ScheduleSpec = EverySpec | CronSpec | AtSpec | NoScheduleSpec;

/** A sequence of nominal tick instants (Unix ms). Pure: no clock, no I/O. */
export interface Schedule {
  readonly kind: 'every' | 'cron' | 'at';
  /** The first tick strictly after `instant`, or null when there is none. */
  nextAfter(instant: number): number | null;
  /** The last tick strictly before `instant`, or null when there is none. */
  previousBefore(instant: number): number | null;
}

/**
 * A validated schedule spec. `key` identifies the tick sequence: when a task's key changes
 * between runs, its persisted cursor no longer applies and it starts afresh.
 */
export interface ScheduleDefinition {
  readonly kind: 'every' | 'cron' | 'at';
  readonly key: string;
  /** The normalised spec, for display and JSON. */
  readonly spec: ScheduleSpec;
  /** The anchor a task first seen at `now` gets (`every` only; null for other kinds). */
  initialAnchor(now: number): number | null;
  /** Binds to an anchor: the persisted one if any, else one derived from `now`. */
  bind(persistedAnchor: number | null, now: number): BoundSchedule;
  /** A short English description, with the zone where it matters: `every 6h`, `at 02:00 every day, Europe/Berlin`. */
  describe(): string;
}

/** A schedule bound to its anchor, ready to produce ticks. */
export interface BoundSchedule extends Schedule {
  /** The anchor to persist (`every` only), or null. */
  readonly anchor: number | null;
}

/** The latest instant a Date can hold (year 275760); schedules end there. */
export const MAX_DATE_MS = 8.64e15;
