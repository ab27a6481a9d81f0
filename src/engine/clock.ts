/** A pending timer; `cancel` is idempotent. */
export interface TimerHandle {
  cancel(): void;
}

/**
 * The engine's only source of time. The system clock reads the real clocks; the test clock
 * (`caretaker/testing`) is virtual, so engine behaviour is tested without sleeping.
 */
export interface Clock {
  /** Wall-clock time in Unix milliseconds. May jump (NTP step, suspend, manual change). */
  now(): number;
  /** Milliseconds from an arbitrary origin; never jumps. Used for elapsed time. */
  monotonic(): number;
  /**
   * Calls `callback` once after `delayMs` of monotonic time. Delays are at most
   * {@link MAX_TIMER_DELAY}; callers chunk longer waits.
   */
  setTimer(callback: () => void, delayMs: number, options?: { readonly unref?: boolean }): TimerHandle;
  /**
   * Calls `callback` on the next turn of the event loop, after pending I/O. Clocks that offer it
   * let the timer queue wake slightly early and wait the last fraction of a millisecond turn by
   * turn, beating the ~1–2 ms lateness of native timers. Virtual clocks leave it out. Not
   * cancellable, so a wait loop allocates nothing per turn; callers check their own state.
   */
  nextTurn?(callback: () => void): void;
}

/** The longest delay a Node.js timer accepts (2^31 − 1 ms, about 24.8 days). */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

/** The real clocks: `Date.now()`, `performance.now()` and `setTimeout`. */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimer(callback, delayMs, options) {
    const timer = setTimeout(callback, Math.min(Math.max(0, delayMs), MAX_TIMER_DELAY));
    if (options?.unref === true) timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
  nextTurn(callback) {
    setImmediate(callback);
  },
};
