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
  // Retries wait about a second (random 0.99 of a 1 s backoff): past the slow spell.
  const options = { clock, lease: '3s', pollInterval: '500ms', random: () => 0.99 } as const;
  const slow = harness({ ...options, store: slowReplies(shared, clock, delays, slowUntil), instance: 'slow' });
  const fast = harness({ ...options, store: shared, instance: 'fast' });
  let running = 0;
  let maxRunning = 0;
  const starts: string[] = [];
  const task = (who: string) => ({
    name: 'job',
    schedule: { at: new Date(T0 + 10_000) },
    retry: { attempts: 2, backoff: '1s' },
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

  it('and the renewal too slow: recorded interrupted without starting, naming why; the retry runs once', async () => {
    const { clock, slow, fast, starts, maxRunning } = await setup({ claim: 2_000, renewLeases: 2_000 }, T0 + 12_500);
    await clock.advance(30_000);
    const runs = await runsOf(fast.scheduler, 'job');
    await Promise.all([slow.scheduler.stop({ timeout: 0 }), fast.scheduler.stop({ timeout: 0 })]);
    assert.equal(starts.includes('slow#1'), false, 'the late claim never started its handler');
    assert.equal(maxRunning(), 1);
    assert.deepEqual(runs.map((r) => [r.attempt, r.status]), [[1, 'interrupted'], [2, 'succeeded']]);
    assert.equal(runs[0]?.error?.code, 'ERR_LEASE_LOST');
    assert.match(runs[0]?.error?.message ?? '', /^not started: 2000 ms after its claim was sent, the lease \(3000 ms\) could not be kept/);
    assert.equal(runs[0]?.startedAt, null, 'no start recorded for a handler that never started');
    assert.equal(starts.length, 1);
  });

  it('a lease renewal that never answers (no reply, no error): the run is stopped a third of a lease before it lapses', async () => {
    const clock = createTestClock({ settleTurns: 3 });
    const shared = memoryStore();
    let stalled = false;
    const blackhole = new Proxy(shared, {
      get(target, property) {
        const value = Reflect.get(target, property) as unknown;
        if (property === 'renewLeases') return (...args: Parameters<Store['renewLeases']>) => (stalled ? new Promise(() => {}) : target.renewLeases(...args));
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const options = { clock, lease: '3s', pollInterval: '500ms', random: () => 0 } as const;
    const a = harness({ ...options, store: blackhole, instance: 'a' });
    const b = harness({ ...options, store: shared, instance: 'b' });
    let running = 0;
    let maxRunning = 0;
    const abortedAt: number[] = [];
    const task = {
      name: 'job',
      schedule: { every: '1h', initialDelay: '1h' },
      retry: { attempts: 2, backoff: '1ms' },
      abortGrace: '100ms',
      handler: async (ctx: { signal: AbortSignal }) => {
        maxRunning = Math.max(maxRunning, ++running);
        ctx.signal.addEventListener('abort', () => abortedAt.push(clock.now() - T0));
        try {
          await clock.sleep(8_000, ctx.signal);
        } finally {
          running--;
        }
      },
    };
    a.scheduler.add(task);
    b.scheduler.add(task);
    await a.scheduler.start();
    await b.scheduler.start();
    await a.scheduler.trigger('job');
    await clock.advance(500);
    stalled = true;
    await clock.advance(20_000);
    const runs = await runsOf(b.scheduler, 'job');
    // a's renewal call never returns: its stop waits out its 1 s grace for store writes.
    const stopping = Promise.all([a.scheduler.stop({ timeout: 0 }), b.scheduler.stop({ timeout: 0 })]);
    await clock.advance(1_000);
    await stopping;
    assert.equal(maxRunning, 1, 'never two handlers of the run at once');
    // Renewed last at 1 s (every third of the lease), so valid until 4 s: stopped a third of a lease before.
    assert.ok(abortedAt[0] !== undefined && abortedAt[0] < 4_000, `aborted at ${abortedAt[0]} ms, before the lease could lapse`);
    assert.deepEqual(runs.map((r) => [r.attempt, r.status, r.instance]), [
      [1, 'interrupted', 'a'],
      [2, 'succeeded', 'b'],
    ]);
  });

  it('a late claim waiting for a renewal that never answers is not started, and frees its slot', async () => {
    const { clock, slow, fast, starts } = await setup({ claim: 2_000, renewLeases: 60_000 }, T0 + 12_500);
    await clock.advance(30_000);
    const runs = await runsOf(fast.scheduler, 'job');
    const stopping = Promise.all([slow.scheduler.stop({ timeout: 0 }), fast.scheduler.stop({ timeout: 0 })]);
    await clock.advance(60_000);
    await stopping;
    assert.equal(starts.includes('slow#1'), false);
    assert.deepEqual(runs.map((r) => [r.attempt, r.status]), [[1, 'interrupted'], [2, 'succeeded']]);
  });
});
