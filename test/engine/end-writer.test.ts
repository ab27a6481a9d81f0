import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EndWriter } from '../../src/engine/end-writer.ts';
import { TimerQueue } from '../../src/engine/timer-queue.ts';
import { memoryStore, type RunCompletion, type Store } from '../../src/index.ts';
import { createTestClock } from '../../src/testing/index.ts';

/** A memory store whose batch writes wait until the test lets them through, in the order sent. */
function heldStore() {
  const store = memoryStore();
  const calls: { ids: string[]; release: () => void }[] = [];
  const finishMany = store.finishMany.bind(store);
  const held: Store = Object.assign(store, {
    finishMany: (completions: readonly RunCompletion[], now: number) =>
      new Promise<Awaited<ReturnType<Store['finishMany']>>>((resolve) => {
        calls.push({ ids: completions.map((c) => c.runId), release: () => resolve(finishMany(completions, now)) });
      }),
  });
  return { store: held, calls };
}

const end = (runId: string): RunCompletion => ({ runId, fencingToken: 1, status: 'succeeded', startedAt: 0, finishedAt: 1, output: null, error: null, retryAt: null, progress: null, takeQueued: false });

describe('EndWriter', () => {
  it('an urgent end (its task is due again soon) is written at once beside a burst\'s writes in flight, not after them', async () => {
    const clock = createTestClock();
    const { store, calls } = heldStore();
    const timers = new TimerQueue(clock, { prepareMs: 0, unref: false, maxSleepMs: 60_000, jumpThresholdMs: 1_000, onJump: () => {}, onWakeEnd: () => {} });
    const writer = new EndWriter({ store, timers, now: () => clock.now(), monotonic: () => clock.monotonic(), reportError: () => {}, onStuck: () => {} });
    const burst = Array.from({ length: 3_000 }, (_, i) => writer.write(end(`b${i}`)));
    await clock.advance(0);
    assert.deepEqual(calls.map((c) => c.ids.length), [1_000], 'one burst write in flight, the rest wait (decision 034)');
    const urgent = writer.write(end('s1'), true);
    await clock.advance(0);
    assert.deepEqual(calls.map((c) => c.ids.length), [1_000, 1], 'the urgent end goes out at once');
    assert.deepEqual(calls[1]?.ids, ['s1']);
    calls[1]?.release();
    assert.equal((await urgent).kind, 'fenced', 'written (the memory store knows no such run: fenced)');
    // Each write goes out when the one before it is answered.
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < calls.length; i++) calls[i]?.release();
      await clock.advance(0);
    }
    assert.deepEqual(calls.map((c) => c.ids.length), [1_000, 1, 1_000, 1_000]);
    assert.equal((await Promise.all(burst)).length, 3_000, 'the burst is written all the same');
    assert.equal(writer.size, 0);
  });
});
