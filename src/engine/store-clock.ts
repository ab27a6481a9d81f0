import type { Clock, TimerHandle } from './clock.ts';

/** How many round trips the offset estimate keeps; the one with the shortest delay wins. */
const SAMPLES = 8;
/** A disagreement this large, twice in a row, is a step of a clock: older samples are dropped. */
const STEP_MS = 1_000;

interface Sample {
  /** Store time minus this process's elapsed (monotonic) time. */
  readonly offset: number;
  /** The round trip's duration: the estimate's uncertainty is half of it. */
  readonly delay: number;
}

/**
 * The scheduler's clock when the store has a clock of its own (PostgreSQL). Replicas' wall
 * clocks disagree, and a replica 20 s ahead would judge another's lease expired, or run every
 * tick 20 s early; the store's clock is the one they all share. So its offset is measured on
 * round trips the scheduler makes anyway, as NTP does (of the last few samples the one with the
 * shortest round trip is trusted), and time is this process's elapsed (monotonic) time plus that
 * offset: neither a skewed nor a stepped local wall clock moves a tick or a lease. Until the
 * first sample, and for stores without a clock, it is the wall clock it wraps.
 */
export class StoreClock implements Clock {
  readonly #base: Clock;
  readonly nextTurn?: (callback: () => void) => void;
  #samples: Sample[] = [];
  /** Store time minus monotonic time, or null before the first sample. */
  #offset: number | null = null;
  #disagreements = 0;

  constructor(base: Clock) {
    this.#base = base;
    if (base.nextTurn !== undefined) this.nextTurn = base.nextTurn.bind(base);
  }

  /** Whole milliseconds, as the wall clock gives them (and store columns hold them), never ahead. */
  now(): number {
    return this.#offset === null ? this.#base.now() : Math.floor(this.#base.monotonic() + this.#offset);
  }

  monotonic(): number {
    return this.#base.monotonic();
  }

  setTimer(callback: () => void, delayMs: number, options?: { readonly unref?: boolean }): TimerHandle {
    return this.#base.setTimer(callback, delayMs, options);
  }

  /** True once a round trip has measured the store's clock. */
  get synced(): boolean {
    return this.#offset !== null;
  }

  /** How far the store's clock is ahead of this process's wall clock, in ms (0 until synced). */
  get offsetMs(): number {
    return this.#offset === null ? 0 : this.now() - this.#base.now();
  }

  /**
   * One round trip: sent and answered at these monotonic instants, during which the store's
   * clock read `storeNow`. Assumes the store read it halfway, as NTP does.
   */
  sample(sentAt: number, answeredAt: number, storeNow: number): void {
    const delay = answeredAt - sentAt;
    if (!(delay >= 0) || !Number.isFinite(storeNow)) return;
    const sample = { offset: storeNow - (sentAt + answeredAt) / 2, delay };
    if (this.#offset !== null && Math.abs(sample.offset - this.#offset) > STEP_MS + delay) {
      // One wild sample may be a stalled reply; two in a row mean a clock was stepped.
      if (++this.#disagreements < 2) return;
      this.#samples = [];
    }
    this.#disagreements = 0;
    this.#samples.push(sample);
    if (this.#samples.length > SAMPLES) this.#samples.shift();
    let best = sample;
    for (const s of this.#samples) if (s.delay < best.delay) best = s;
    this.#offset = best.offset;
  }
}
