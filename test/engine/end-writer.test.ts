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

  it('a write that never answers gives up its slot after 5 s: the ends behind it are written; at most two such writes wait beside the one in flight', async () => {
    const clock = createTestClock();
    const { store, calls } = heldStore();
    const timers = new TimerQueue(clock, { prepareMs: 0, unref: false, maxSleepMs: 60_000, jumpThresholdMs: 1_000, onJump: () => {}, onWakeEnd: () => {} });
    timers.start();
    const writer = new EndWriter({ store, timers, now: () => clock.now(), monotonic: () => clock.monotonic(), reportError: () => {}, onStuck: () => {} });
    const first = writer.write(end('a'));
    await clock.advance(0);
    const behind = [writer.write(end('b')), writer.write(end('c'))];
    await clock.advance(4_000);
    assert.equal(calls.length, 1, 'within 5 s, the rest waits for the write in flight');
    await clock.advance(1_100);
    assert.deepEqual(calls.map((c) => c.ids), [['a'], ['b', 'c']], 'the unanswered write gave up its slot');
    calls[1]?.release();
    assert.deepEqual((await Promise.all(behind)).map((o) => o.kind), ['fenced', 'fenced'], 'written (the memory store knows no such runs)');
    // Two more that never answer, then the store hangs for all: no more than three statements wait.
    writer.write(end('d'));
    await clock.advance(6_000);
    writer.write(end('e'));
    await clock.advance(6_000);
    writer.write(end('f'));
    await clock.advance(60_000);
    assert.deepEqual(calls.map((c) => c.ids), [['a'], ['b', 'c'], ['d'], ['e']], 'two slow writes beside the one in flight, then it waits');
    // The first answers at last: its end is recorded from that answer, and the queue moves on.
    calls[0]?.release();
    assert.equal((await first).kind, 'fenced');
    await clock.advance(5_000);
    assert.deepEqual(calls.at(-1)?.ids, ['f'], 'a slow write\'s place freed, the next one goes');
  });
});
