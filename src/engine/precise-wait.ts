import type { Clock, TimerHandle } from './clock.ts';

/** How long before an instant waiting switches from the native timer to turn-by-turn checks. */
export const TURN_WAIT_MS = 4;
/**
 * The last stretch is waited without yielding: a turn allocates (an immediate, an async context),
 * and a young-generation collection that allocation sets off would land between the instant and
 * the handlers' starts (decision 036). Bounded by a count of clock reads, not by the clock: a
 * virtual clock that offers turns never moves while it is read.
 */
export const HOLD_WAIT_MS = 4;
const MAX_HOLD_READS = 100_000;
/** CPU-time budget for turn-by-turn waiting, per second of wall time. */
const BUDGET_MS_PER_S = 10;

/**
 * Waits until wall-clock instants with sub-millisecond precision. Native timers fire 1–2 ms
 * late; for the last few milliseconds this checks the clock on every turn of the event loop
 * (which keeps serving I/O). That costs CPU, so a per-second budget bounds it; past the budget,
 * and with clocks that cannot yield a turn (virtual clocks), it falls back to the timer.
 */
export class PreciseWait {
  readonly #clock: Clock;
  #budgetMs = BUDGET_MS_PER_S;
  #budgetSince = Number.NEGATIVE_INFINITY;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** True when this clock can wait turn by turn. */
  get precise(): boolean {
    return this.#clock.nextTurn !== undefined;
  }

  /** Calls `callback` once, at or after `instant`. */
  until(instant: number, callback: () => void): TimerHandle {
    let timer: TimerHandle | null = null;
    let done = false;
    // When the previous turn-by-turn check began (that time is spent CPU), or null.
    let turnSince: number | null = null;
    // One callback for every turn: a wait loop must not allocate per turn, or the garbage it
    // makes brings a collection into the very milliseconds it is trying to hit.
    const check = (): void => {
      if (done) return;
      const mono = this.#clock.monotonic();
      if (turnSince !== null) this.#spend(mono - turnSince);
      turnSince = null;
      const remaining = instant - this.#clock.now();
      if (remaining <= 0) {
        done = true;
        callback();
        return;
      }
      const nextTurn = this.#clock.nextTurn;
      if (nextTurn === undefined || this.#budgetLeft() <= 0) {
        timer = this.#clock.setTimer(check, Math.ceil(remaining));
      } else if (remaining > TURN_WAIT_MS) {
        // Sleep on the native timer only until the last few milliseconds; it overshoots.
        timer = this.#clock.setTimer(check, Math.floor(remaining - TURN_WAIT_MS));
      } else if (remaining <= HOLD_WAIT_MS && this.#hold(instant)) {
        done = true;
        callback();
      } else {
        turnSince = mono;
        nextTurn(check);
      }
    };
    check();
    return {
      cancel: () => {
        done = true;
        timer?.cancel();
      },
    };
  }

  /** Waits for `instant` without yielding; false if the clock did not get there within the reads allowed. */
  #hold(instant: number): boolean {
    const since = this.#clock.monotonic();
    let reads = 0;
    while (instant - this.#clock.now() > 0) if (++reads >= MAX_HOLD_READS) break;
    this.#spend(this.#clock.monotonic() - since);
    return reads < MAX_HOLD_READS;
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
