import type { Clock, TimerHandle } from './clock.ts';

/**
 * How long before an instant the wait stops sleeping on the native timer (which fires 1–2 ms late)
 * and holds: reads the clock without yielding until the instant (decision 036). A turn of the
 * event loop allocates (an immediate, an async context), and the young-generation collection that
 * allocation can set off would land between the instant and the handlers' starts; a collection or
 * a timer that comes due during the hold runs after the starts instead.
 */
export const HOLD_WAIT_MS = 4;
/**
 * A hold gives up after this many reads or this much elapsed time past its length, whichever comes
 * first, and yields a turn: a clock that does not move while it is read (a virtual one that offers
 * turns), or a wall clock stepped back, must not block the loop.
 */
const MAX_HOLD_READS = 100_000;
const MAX_HOLD_OVERRUN_MS = 2;
/** CPU-time budget for holding and turn-by-turn waiting, per second of wall time. */
const BUDGET_MS_PER_S = 10;

/**
 * Waits until wall-clock instants with sub-millisecond precision: the native timer until the
 * last {@link HOLD_WAIT_MS}, then a hold that does not yield. That costs CPU and keeps I/O waiting
 * for up to those milliseconds, so a per-second budget bounds it; past the budget, and with clocks
 * that cannot yield a turn (virtual clocks), it falls back to the timer.
 */
export class PreciseWait {
  readonly #clock: Clock;
  #budgetMs = BUDGET_MS_PER_S;
  #budgetSince = Number.NEGATIVE_INFINITY;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** True when this clock can yield a turn, so the wait can go ahead of the native timer. */
  get precise(): boolean {
    return this.#clock.nextTurn !== undefined;
  }

  /**
   * Calls `callback` once, at or after `instant`; never from inside this call (a hold starts on a
   * turn of its own, so the caller's work is done before it).
   */
  until(instant: number, callback: () => void): TimerHandle {
    let timer: TimerHandle | null = null;
    let done = false;
    // When the previous turn-by-turn check began (that time is spent CPU), or null.
    let turnSince: number | null = null;
    // One callback for every turn: a wait loop must not allocate per turn.
    const check = (first: boolean): void => {
      if (done) return;
      const mono = this.#clock.monotonic();
      if (turnSince !== null) this.#spend(mono - turnSince);
      turnSince = null;
      const remaining = instant - this.#clock.now();
      const nextTurn = this.#clock.nextTurn;
      if (remaining <= 0 && !first) {
        done = true;
        callback();
      } else if (nextTurn === undefined || this.#budgetLeft() <= 0) {
        timer = this.#clock.setTimer(later, Math.max(0, Math.ceil(remaining)));
      } else if (remaining > HOLD_WAIT_MS) {
        timer = this.#clock.setTimer(later, Math.floor(remaining - HOLD_WAIT_MS));
      } else if (!first && this.#hold(instant)) {
        done = true;
        callback();
      } else {
        turnSince = this.#clock.monotonic();
        nextTurn(later);
      }
    };
    const later = (): void => check(false);
    check(true);
    return {
      cancel: () => {
        done = true;
        timer?.cancel();
      },
    };
  }

  /** Waits for `instant` without yielding; false if it gave up (see {@link MAX_HOLD_READS}). */
  #hold(instant: number): boolean {
    const since = this.#clock.monotonic();
    let reads = 0;
    let reached = true;
    while (instant - this.#clock.now() > 0) {
      // Elapsed time is read one read in 1,024: a clock read is what the hold is made of.
      if (++reads >= MAX_HOLD_READS || ((reads & 1023) === 0 && this.#clock.monotonic() - since > HOLD_WAIT_MS + MAX_HOLD_OVERRUN_MS)) {
        reached = false;
        break;
      }
    }
    this.#spend(this.#clock.monotonic() - since);
    return reached;
  }

  #spend(ms: number): void {
    this.#budgetLeft();
    this.#budgetMs -= ms;
  }

  #budgetLeft(): number {
    const now = this.#clock.monotonic();
    if (now - this.#budgetSince >= 1_000) {
      this.#budgetSince = now;
      this.#budgetMs = BUDGET_MS_PER_S;
    }
    return this.#budgetMs;
  }
}
