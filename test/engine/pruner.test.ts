import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MAX_PRUNE_WAIT_MS, PRUNE_YIELD_MS, Pruner } from '../../src/engine/housekeeping.ts';
import { TimerQueue } from '../../src/engine/timer-queue.ts';
import type { Store } from '../../src/index.ts';
import { createTestClock } from '../../src/testing/index.ts';

const INTERVAL_MS = 3_600_000;
const FIRST_MS = 60_000;

/** A Pruner on a test clock's timer queue, over `store`; `stop` ends it and the queue. */
function prunerOn(clock: ReturnType<typeof createTestClock>, store: Store, busy: () => boolean) {
  const timers = new TimerQueue(clock, { prepareMs: 0, unref: false, maxSleepMs: 60_000, jumpThresholdMs: 1_000, onJump: () => {}, onWakeEnd: () => {} });
  timers.start();
  const host = { store, timers, instance: 'i', now: () => clock.now(), monotonic: () => clock.monotonic(), track: <T>(p: Promise<T>) => p, reportError: () => {} };
  const pruner = new Pruner(host, { maxAgeMs: Number.POSITIVE_INFINITY, maxPerTask: 10 }, INTERVAL_MS, busy);
  return {
    pruner,
    stop: () => {
      pruner.stop();
      timers.stop();
    },
  };
}

describe('Pruner', () => {
  it('each batch waits while busy, at most 10 minutes, and goes at the first look that finds it idle (any busy pattern, any backlog)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 80 })), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 4 }),
        async (segments, stretch, backlog) => {
          // Busy and idle spells of any length (long ones, past the 10-minute cap, included), in
          // steps of 10 s or longer from the first look on.
          const pattern = segments.flatMap(([busy, steps]) => Array.from({ length: steps }, () => busy));
          const stepMs = PRUNE_YIELD_MS * stretch;
          const busyAt = (t: number) => (t < FIRST_MS ? false : (pattern[Math.floor((t - FIRST_MS) / stepMs)] ?? false));
          const clock = createTestClock();
          const start = clock.now();
          // A store with `backlog` full batches to delete, then none.
          const prunedAt: number[] = [];
          let left = backlog;
          const store = {
            prune: async () => {
              prunedAt.push(clock.now() - start);
              return left-- > 0 ? Pruner.BATCH : 0;
            },
          } as unknown as Store;
          const { pruner, stop } = prunerOn(clock, store, () => busyAt(clock.now() - start));
          pruner.start(FIRST_MS);
          await clock.advance(FIRST_MS + (backlog + 1) * MAX_PRUNE_WAIT_MS + pattern.length * stepMs + PRUNE_YIELD_MS);
          stop();
          // The model: before each batch, a look every 10 s while busy, at most 10 minutes' worth.
          const expected: number[] = [];
          let t = FIRST_MS;
          for (let batch = 0; batch <= backlog; batch++) {
            for (let waited = 0; busyAt(t) && waited < MAX_PRUNE_WAIT_MS; waited += PRUNE_YIELD_MS) t += PRUNE_YIELD_MS;
            expected.push(t);
          }
          assert.deepEqual(prunedAt.slice(0, backlog + 1), expected);
          for (const at of prunedAt.slice(backlog + 1)) assert.ok(at >= t + INTERVAL_MS, 'the next pass an hour later at the earliest');
        },
      ),
      { numRuns: 80 },
    );
  });

  it('a stop and start while a batch is in flight does not begin a second pass beside it', async () => {
    const clock = createTestClock();
    let inFlight = 0;
    let most = 0;
    let release: (() => void) | null = null;
    const store = {
      prune: () => {
        most = Math.max(most, ++inFlight);
        return new Promise<number>((resolve) => {
          release = () => {
            inFlight--;
            resolve(0);
          };
        });
      },
    } as unknown as Store;
    const { pruner, stop } = prunerOn(clock, store, () => false);
    pruner.start(1_000);
    await clock.advance(1_000);
    assert.equal(inFlight, 1);
    pruner.stop();
    pruner.start(1_000);
    await clock.advance(5_000);
    assert.equal(most, 1, 'one pass at a time');
    (release as unknown as () => void)();
    await clock.advance(INTERVAL_MS);
    assert.equal(most, 1);
    assert.equal(inFlight, 1, 'the pass that ended armed the next, an hour on');
    stop();
  });
});
