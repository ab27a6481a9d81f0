import type { Clock, TimerHandle } from './clock.ts';

/** How long before an instant waiting switches from the native timer to turn-by-turn checks. */
export const TURN_WAIT_MS = 4;
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
    let handle: TimerHandle | null = null;
    let cancelled = false;
    // `turnSince` is when the previous turn-by-turn wait began (its time is spent CPU), or null.
    const check = (turnSince: number | null) => {
      if (cancelled) return;
      const mono = this.#clock.monotonic();
      if (turnSince !== null) this.#spend(mono - turnSince);
      const remaining = instant - this.#clock.now();
      if (remaining <= 0) {
        callback();
        return;
      }
      const nextTurn = this.#clock.nextTurn;
      if (nextTurn !== undefined && remaining <= TURN_WAIT_MS && this.#budgetLeft() > 0) handle = nextTurn(() => check(mono));
      else handle = this.#clock.setTimer(() => check(null), Math.ceil(remaining));
    };
    check(null);
    return {
      cancel: () => {
        cancelled = true;
        handle?.cancel();
      },
    };
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
