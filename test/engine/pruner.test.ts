import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MAX_PRUNE_WAIT_MS, PRUNE_YIELD_MS, Pruner } from '../../src/engine/housekeeping.ts';
import { TimerQueue } from '../../src/engine/timer-queue.ts';
import { memoryStore, type Store } from '../../src/index.ts';
import { createTestClock } from '../../src/testing/index.ts';

const INTERVAL_MS = 3_600_000;
const FIRST_MS = 60_000;

describe('Pruner', () => {
  it('never prunes while busy unless it waited 10 minutes, and prunes at the first look it is not busy (any busy pattern)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 80 })), { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 3 }), async (segments, stretch) => {
        // Busy and idle spells of any length, long ones (past the 10-minute cap) included.
        const pattern = segments.flatMap(([busy, steps]) => Array.from({ length: steps }, () => busy));
        const clock = createTestClock();
        const start = clock.now();
        const store = memoryStore();
        const prunedAt: number[] = [];
        const prune = store.prune.bind(store);
        const watched: Store = Object.assign(store, {
          prune: (...args: Parameters<Store['prune']>) => {
            prunedAt.push(clock.now() - start);
            return prune(...args);
          },
        });
        const timers = new TimerQueue(clock, { prepareMs: 0, unref: false, maxSleepMs: 60_000, jumpThresholdMs: 1_000, onJump: () => {}, onWakeEnd: () => {} });
        timers.start();
        // Busy or not in each stretch of time after the first look: any pattern, in 10 s steps or longer.
        const stepMs = PRUNE_YIELD_MS * stretch;
        const busyAt = (t: number) => (t < FIRST_MS ? false : (pattern[Math.floor((t - FIRST_MS) / stepMs)] ?? false));
        const host = { store: watched, timers, instance: 'i', now: () => clock.now(), monotonic: () => clock.monotonic(), track: <T>(p: Promise<T>) => p, reportError: () => {} };
        const pruner = new Pruner(host, { maxAgeMs: Number.POSITIVE_INFINITY, maxPerTask: 10 }, INTERVAL_MS, () => busyAt(clock.now() - start));
        pruner.start(FIRST_MS);
        const horizon = FIRST_MS + pattern.length * stepMs + MAX_PRUNE_WAIT_MS + PRUNE_YIELD_MS;
        await clock.advance(horizon);
        pruner.stop();
        timers.stop();
        // The looks: at the first prune time, then every 10 s while busy, until one prunes.
        let t = FIRST_MS;
        let waited = 0;
        while (busyAt(t) && waited < MAX_PRUNE_WAIT_MS) {
          t += PRUNE_YIELD_MS;
          waited += PRUNE_YIELD_MS;
        }
        assert.equal(prunedAt[0], t, 'the first prune is at the first look that finds it idle, or when the wait is used up');
        for (const at of prunedAt.slice(1)) assert.ok(at >= t + INTERVAL_MS, 'then an hour later at the earliest');
      }),
      { numRuns: 60 },
    );
  });
});
