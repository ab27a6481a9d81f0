import type { Clock, TimerHandle } from './clock.ts';

/** How many round trips the offset estimate keeps. */
const SAMPLES = 8;
/**
 * A store clock further than this from the host's is not followed: it is broken, not skewed,
 * and following it would write cursors and leases minutes or years away from the truth.
 */
export const MAX_FOLLOWED_OFFSET_MS = 15 * 60_000;

/** What one round trip says: the store's offset from monotonic time lies in [low, high]. */
interface Sample {
  /** If the store read its clock just before it answered. */
  readonly low: number;
  /** If it read its clock as soon as the request left. */
  readonly high: number;
}

/**
 * The scheduler's clock when the store has a clock of its own (PostgreSQL). Replicas' wall
 * clocks disagree, and a replica 20 s ahead would judge another's lease expired, or run every
 * tick 20 s early; the store's clock is the one they all share. Its offset is measured on round
 * trips the scheduler makes anyway, and time is this process's elapsed (monotonic) time plus
 * that offset: neither a skewed nor a stepped local wall clock moves a tick or a lease.
 *
 * Each round trip bounds the offset: the store read its clock somewhere between sending and
 * answering. The estimate is the highest lower bound of the last few round trips: it is never
 * ahead of the store (no early run), whatever delays a request before the store reads its
 * clock (a busy connection pool, a slow statement), and it is as close as the quickest reply.
 * A round trip whose bounds exclude the estimate means the store's clock was stepped: older
 * samples that disagree with it are dropped. Until the first sample, for stores without a clock,
 * and for a store clock more than {@link MAX_FOLLOWED_OFFSET_MS} off the host's, it is the wall
 * clock it wraps.
 */
export class StoreClock implements Clock {
  readonly #base: Clock;
  readonly nextTurn?: (callback: () => void) => void;
  #samples: Sample[] = [];
  /** Store time minus monotonic time, or null while not following the store. */
  #offset: number | null = null;
  /** True when the store's clock was measured but is too far off to follow. */
  #refused = false;

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

  /** True while time follows the store's clock. */
  get synced(): boolean {
    return this.#offset !== null;
  }

  /** True when the store's clock is too far off this host's to follow (see {@link MAX_FOLLOWED_OFFSET_MS}). */
  get refused(): boolean {
    return this.#refused;
  }

  /**
   * How far the store's clock is ahead of this process's wall clock, in ms (0 until measured);
   * measured even when refused.
   */
  get offsetMs(): number {
    const estimate = this.#estimate();
    return estimate === null ? 0 : Math.floor(this.#base.monotonic() + estimate) - this.#base.now();
  }

  /** One round trip: sent and answered at these monotonic instants, the store's clock read `storeNow` in between. */
  sample(sentAt: number, answeredAt: number, storeNow: number): void {
    if (!(answeredAt >= sentAt) || !Number.isFinite(storeNow)) return;
    const sample = { low: storeNow - answeredAt, high: storeNow - sentAt };
    // Samples this one rules out come from before a step of the store's clock.
    const kept = this.#samples.filter((s) => s.low <= sample.high && s.high >= sample.low);
    const fresh = kept.length < this.#samples.length || this.#samples.length === 0;
    this.#samples = kept;
    this.#samples.push(sample);
    if (this.#samples.length > SAMPLES) this.#samples.shift();
    const estimate = this.#estimate() as number;
    // Judged only when the store's clock is first read or has stepped, so a later step of this
    // host's own clock never changes whose clock is followed: a step of a followed store clock
    // against where it was, otherwise the store's clock against this host's.
    if (fresh) {
      const reference = this.#offset ?? this.#base.now() - this.#base.monotonic();
      this.#refused = Math.abs(estimate - reference) > MAX_FOLLOWED_OFFSET_MS;
    }
    this.#offset = this.#refused ? null : estimate;
  }

  #estimate(): number | null {
    if (this.#samples.length === 0) return null;
    let low = Number.NEGATIVE_INFINITY;
    for (const s of this.#samples) if (s.low > low) low = s.low;
    return low;
  }
}
