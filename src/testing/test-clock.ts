import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Clock, TimerHandle } from '../engine/clock.ts';
import { parseInstant } from '../engine/schedules/parse.ts';
import { invalidOption } from '../util/errors.ts';
import { MinHeap } from '../util/min-heap.ts';

/**
 * A virtual clock for tests: time moves only when the test says so, and timers fire in order
 * as it passes them, so a day of schedules runs in milliseconds and never flakes.
 */
export interface TestClock extends Clock {
  /**
   * Moves time forward by `ms`, firing every timer that comes due, in order, at its own instant,
   * and letting promise chains (handlers, store calls) settle after each.
   */
  advance(ms: number): Promise<void>;
  /** Moves time forward to an instant (ISO-8601 string with zone, Date or Unix ms). */
  advanceTo(instant: Date | number | string): Promise<void>;
  /**
   * Steps only the wall clock, as NTP, a suspend or an operator would; elapsed (monotonic) time
   * and timers are untouched. The scheduler notices at its next wake.
   */
  jump(ms: number): void;
  /**
   * Simulates a blocked event loop: both clocks move forward by `ms` but no timer fires; the
   * overdue ones fire, late, at the next `advance`.
   */
  block(ms: number): void;
  /** Resolves after `ms` of virtual time; rejects with the signal's reason if it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Lets pending promise chains run without moving time. */
  settle(): Promise<void>;
  /** How many timers are pending. */
  readonly pendingTimers: number;
}

interface VirtualTimer {
  heapIndex: number;
  readonly at: number;
  readonly seq: number;
  readonly callback: () => void;
}

/** Options of {@link createTestClock}. */
export interface TestClockOptions {
  /** The initial wall-clock time. @defaultValue '2026-01-01T00:00:00Z' */
  readonly start?: Date | number | string;
  /**
   * Event-loop turns to let pass after each timer fires. The engine and the memory store only
   * chain promises, which one turn settles; raise it for handlers that do real I/O.
   * @defaultValue 1
   */
  readonly settleTurns?: number;
}

/**
 * Creates a {@link TestClock} starting at `start` (default 2026-01-01T00:00:00Z).
 *
 * @example
 * const clock = createTestClock({ start: '2026-03-29T00:00:00Z' });
 * const scheduler = createScheduler({ clock });
 * scheduler.add({ name: 'tick', schedule: { every: '1m' }, handler: () => {} });
 * await scheduler.start();
 * await clock.advance(10 * 60_000); // ten runs
 */
export function createTestClock(options: TestClockOptions = {}): TestClock {
  const start = options.start === undefined ? Date.UTC(2026, 0, 1) : parseInstant(options.start);
  if (start === undefined) throw invalidOption('createTestClock', 'start', options.start, 'use an ISO-8601 instant with a zone, a Date or Unix milliseconds');
  const turns = options.settleTurns ?? 1;
  let wall = start;
  let mono = 0;
  let seq = 0;
  const timers = new MinHeap<VirtualTimer>((a, b) => a.at < b.at || (a.at === b.at && a.seq < b.seq));

  const settle = async (): Promise<void> => {
    for (let i = 0; i < turns; i++) await nextTurn();
  };

  const moveTo = (targetMono: number): void => {
    wall += targetMono - mono;
    mono = targetMono;
  };

  const advanceBy = async (ms: number): Promise<void> => {
    if (!Number.isFinite(ms) || ms < 0) throw invalidOption('advance', 'ms', ms, 'use a finite, non-negative number of milliseconds');
    const target = mono + ms;
    await settle();
    for (let next = timers.peek(); next !== undefined && next.at <= target; next = timers.peek()) {
      timers.remove(next);
      moveTo(Math.max(mono, next.at));
      next.callback();
      await settle();
    }
    moveTo(target);
    await settle();
  };

  const clock: TestClock = {
    now: () => wall,
    monotonic: () => mono,
    setTimer(callback, delayMs): TimerHandle {
      const timer: VirtualTimer = { heapIndex: -1, at: mono + Math.max(0, delayMs), seq: seq++, callback };
      timers.push(timer);
      // Like Node, a timer that is already due fires on the next turn without time moving.
      if (delayMs <= 0) {
        void nextTurn().then(() => {
          if (timers.remove(timer)) callback();
        });
      }
      return { cancel: () => void timers.remove(timer) };
    },
    advance: advanceBy,
    async advanceTo(instant) {
      const target = parseInstant(instant);
      if (target === undefined) throw invalidOption('advanceTo', 'instant', instant, 'use an ISO-8601 instant with a zone, a Date or Unix milliseconds');
      await advanceBy(Math.max(0, target - wall));
    },
    jump(ms) {
      wall += ms;
    },
    block(ms) {
      if (!Number.isFinite(ms) || ms < 0) throw invalidOption('block', 'ms', ms, 'use a finite, non-negative number of milliseconds');
      moveTo(mono + ms);
    },
    sleep(ms, signal) {
      return new Promise((resolve, reject) => {
        if (signal?.aborted === true) {
          reject(signal.reason);
          return;
        }
        const handle = clock.setTimer(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }, ms);
        const onAbort = () => {
          handle.cancel();
          reject(signal?.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
    settle,
    get pendingTimers() {
      return timers.size;
    },
  };
  return clock;
}
