import { formatDuration } from '../../util/duration.ts';
import { type BoundSchedule, MAX_DATE_MS, type ScheduleDefinition } from './types.ts';

/**
 * `every` ticks are `anchor + k·interval` for k ≥ 0: never "interval after the last run
 * finished", so they do not drift however long runs take.
 */
export class EverySchedule implements BoundSchedule {
  readonly intervalMs: number;
  readonly anchor: number;

  constructor(intervalMs: number, anchor: number) {
    this.intervalMs = intervalMs;
    this.anchor = anchor;
  }

  // A getter, not a field: one EverySchedule exists per task, so every byte counts.
  get kind(): 'every' {
    return 'every';
  }

  nextAfter(instant: number): number | null {
    if (instant < this.anchor) return this.anchor;
    const next = this.anchor + (Math.floor((instant - this.anchor) / this.intervalMs) + 1) * this.intervalMs;
    // The schedule ends where a Date ends (year 275760).
    return next > MAX_DATE_MS ? null : next;
  }

  previousBefore(instant: number): number | null {
    if (instant <= this.anchor) return null;
    return this.anchor + (Math.ceil((instant - this.anchor) / this.intervalMs) - 1) * this.intervalMs;
  }
}

/** A validated `every` spec; each task binds it to its own persisted anchor. */
export class EveryDefinition implements ScheduleDefinition {
  readonly kind = 'every';
  readonly key: string;
  readonly intervalMs: number;
  readonly initialDelayMs: number;
  readonly fixedAnchor: number | null;
  /** The last bound schedule: tasks registered together share their anchor, so they share it. */
  #lastBound: EverySchedule | null = null;

  constructor(intervalMs: number, initialDelayMs: number, fixedAnchor: number | null) {
    this.intervalMs = intervalMs;
    this.initialDelayMs = initialDelayMs;
    this.fixedAnchor = fixedAnchor;
    this.key = `every:${intervalMs}:${initialDelayMs}:${fixedAnchor ?? ''}`;
  }

  get spec(): { every: string; initialDelay?: string; anchor?: string } {
    return {
      every: formatDuration(this.intervalMs),
      ...(this.initialDelayMs > 0 ? { initialDelay: formatDuration(this.initialDelayMs) } : {}),
      ...(this.fixedAnchor !== null ? { anchor: new Date(this.fixedAnchor).toISOString() } : {}),
    };
  }

  initialAnchor(now: number): number {
    return this.fixedAnchor ?? now + this.initialDelayMs;
  }

  bind(persistedAnchor: number | null, now: number): EverySchedule {
    // A fixed anchor is part of the key, so a persisted anchor can only differ if the key did.
    const anchor = this.fixedAnchor ?? persistedAnchor ?? this.initialAnchor(now);
    if (this.#lastBound?.anchor !== anchor) this.#lastBound = new EverySchedule(this.intervalMs, anchor);
    return this.#lastBound;
  }

  describe(): string {
    return `every ${formatDuration(this.intervalMs)}`;
  }
}
