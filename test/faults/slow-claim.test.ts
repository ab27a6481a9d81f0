/**
 * A claim answered late (a locked table, a slow database): the store counts the lease from when
 * the claim arrived, so by the time the reply comes back part of it, or all of it, is gone.
 * The handler must only start with enough lease left; otherwise another replica's retry may run
 * the same tick beside it. Virtual time, two replicas on one memory store.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memoryStore, type Store } from '../../src/index.ts';
import { createTestClock, type TestClock } from '../../src/testing/index.ts';
import { harness, runsOf, T0 } from '../helpers.ts';

/**
 * `inner`, with the replies of some methods delayed by virtual time (the call itself commits at
 * once), for calls made before `until`: then the replica recovers, so the tick's retry can land
 * on either replica.
 */
function slowReplies(inner: Store, clock: TestClock, delays: Partial<Record<keyof Store, number>>, until: number): Store {
  return new Proxy(inner, {
    get(target, property) {
      const value = Reflect.get(target, property) as unknown;
      if (typeof value !== 'function') return value;
      const delay = delays[property as keyof Store];
      if (delay === undefined) return value.bind(target);
      return async (...args: unknown[]) => {
        const slow = clock.now() < until;
        const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (slow) await clock.sleep(delay);
        return result;
      };
    },
  });
}

/** Two replicas (the slow one registers first, so it claims first) and a log of handler activity. */
async function setup(delays: Partial<Record<keyof Store, number>>, slowUntil = T0 + 12_000) {
  const clock = createTestClock({ settleTurns: 3 });
  const shared = memoryStore();
  const options = { clock, lease: '3s', pollInterval: '500ms', random: () => 0 } as const;
  const slow = harness({ ...options, store: slowReplies(shared, clock, delays, slowUntil), instance: 'slow' });
  const fast = harness({ ...options, store: shared, instance: 'fast' });
  let running = 0;
  let maxRunning = 0;
  const starts: string[] = [];
  const task = (who: string) => ({
    name: 'job',
    schedule: { at: new Date(T0 + 10_000) },
    retry: { attempts: 2, backoff: '1ms' },
    handler: async (ctx: { attempt: number }) => {
      starts.push(`${who}#${ctx.attempt}`);
      maxRunning = Math.max(maxRunning, ++running);
      await clock.sleep(1_000);
      running--;
    },
  });
  slow.scheduler.add(task('slow'));
  fast.scheduler.add(task('fast'));
  await slow.scheduler.start();
  await fast.scheduler.start();
  return { clock, slow, fast, starts, maxRunning: () => maxRunning };
}

describe('a claim answered late', () => {
  it('after its lease lapsed: the handler never starts, the tick runs once elsewhere as a retry', async () => {
    const { clock, slow, fast, starts, maxRunning } = await setup({ claim: 4_000 });
    await clock.advance(20_000);
    const runs = await runsOf(fast.scheduler, 'job');
    await Promise.all([slow.scheduler.stop({ timeout: 0 }), fast.scheduler.stop({ timeout: 0 })]);
    assert.deepEqual(starts.map((s) => s.split('#')[1]), ['2'], 'only the retry ran');
    assert.equal(maxRunning(), 1);
    assert.deepEqual(runs.map((r) => [r.attempt, r.status, r.trigger]), [
      [1, 'interrupted', 'schedule'],
      [2, 'succeeded', 'retry'],
    ]);
  });

  it('with too little lease left: the lease is renewed first, then the handler starts', async () => {
    const { clock, slow, fast, starts } = await setup({ claim: 2_000 });
    await clock.advance(20_000);
    const runs = await runsOf(fast.scheduler, 'job');
    await Promise.all([slow.scheduler.stop({ timeout: 0 }), fast.scheduler.stop({ timeout: 0 })]);
    assert.deepEqual(starts, ['slow#1']);
    assert.deepEqual(runs.map((r) => [r.attempt, r.instance, r.status, r.startedAt?.getTime()]), [[1, 'slow', 'succeeded', T0 + 12_000]]);
  });

  it('and the renewal slow too: recorded interrupted without starting, naming why; the retry runs once', async () => {
    const { clock, slow, fast, starts, maxRunning } = await setup({ claim: 2_000, renewLeases: 2_000 }, T0 + 14_500);
    await clock.advance(30_000);
    const runs = await runsOf(fast.scheduler, 'job');
    await Promise.all([slow.scheduler.stop({ timeout: 0 }), fast.scheduler.stop({ timeout: 0 })]);
    assert.equal(starts.includes('slow#1'), false, 'the late claim never started its handler');
    assert.equal(maxRunning(), 1);
    assert.deepEqual(runs.map((r) => [r.attempt, r.status]), [[1, 'interrupted'], [2, 'succeeded']]);
    assert.equal(runs[0]?.error?.code, 'ERR_LEASE_LOST');
    assert.equal(runs[0]?.startedAt, null, 'no start recorded for a handler that never started');
    assert.equal(starts.length, 1);
  });
});
