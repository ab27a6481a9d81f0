import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RunTimeoutError } from '../../../src/index.ts';
import { harness, runsOf, secs, T0, work } from '../../helpers.ts';

describe('timeout and abortGrace', () => {
  it('aborts the signal with a timeout reason; a handler that stops is recorded timed_out', async () => {
    const h = harness();
    let reason: unknown;
    h.scheduler.add({
      name: 'slow',
      schedule: { at: new Date(T0) },
      timeout: '10s',
      handler: async (ctx) => {
        try {
          await h.clock.sleep(60_000, ctx.signal);
        } catch (error) {
          reason = error;
          throw error;
        }
      },
    });
    await h.scheduler.start();
    await h.clock.advance(10_000);
    const [run] = await runsOf(h.scheduler, 'slow');
    assert.ok(reason instanceof RunTimeoutError);
    assert.equal(run?.status, 'timed_out');
    assert.equal(run?.durationMs, 10_000);
    assert.equal(run?.error?.code, 'ERR_RUN_TIMEOUT');
    await h.scheduler.stop();
  });

  it('abandons a handler that ignores the signal after abortGrace, and frees its slot', async () => {
    const h = harness({ concurrency: 1 });
    h.scheduler.add({ name: 'stuck', schedule: { at: new Date(T0) }, timeout: '10s', abortGrace: '5s', handler: () => new Promise(() => {}) });
    h.scheduler.add({ name: 'next', schedule: { at: new Date(T0 + 1000) }, handler: () => 'ran' });
    await h.scheduler.start();
    await h.clock.advance(14_999);
    assert.equal((await runsOf(h.scheduler, 'next')).length, 0, 'waits for the slot');
    await h.clock.advance(1);
    const [stuck] = await runsOf(h.scheduler, 'stuck');
    const [next] = await runsOf(h.scheduler, 'next');
    assert.equal(stuck?.status, 'timed_out');
    assert.equal(stuck?.durationMs, 15_000);
    assert.equal(next?.status, 'succeeded');
    assert.equal(next?.latenessMs, 14_000, 'started as soon as the stuck run was abandoned');
    await h.scheduler.stop();
  });

  it('a timeout is strict: returning within the grace period still records timed_out', async () => {
    const h = harness();
    h.scheduler.add({ name: 'late', schedule: { at: new Date(T0) }, timeout: '1s', handler: work(h.clock, 1500, 'done') });
    h.scheduler.add({ name: 'deaf', schedule: { at: new Date(T0) }, timeout: '1s', handler: async () => { await h.clock.sleep(1500); return 'done'; } });
    await h.scheduler.start();
    await h.clock.advance(3000);
    const runs = await runsOf(h.scheduler);
    assert.deepEqual(runs.map((r) => [r.task, r.status]).sort(), [['deaf', 'timed_out'], ['late', 'timed_out']]);
    await h.scheduler.stop();
  });
});

describe('retry', () => {
  it('retries with exponential backoff and full jitter, each attempt a record of the same tick', async () => {
    const h = harness({ random: () => 0.5 });
    let calls = 0;
    h.scheduler.add({
      name: 'flaky',
      schedule: { at: new Date(T0) },
      retry: { attempts: 4, backoff: '10s', maxBackoff: '25s' },
      handler: () => {
        calls++;
        if (calls < 4) throw new Error(`failure ${calls}`);
        return 'finally';
      },
    });
    await h.scheduler.start();
    await h.clock.advance(60_000);
    const runs = await runsOf(h.scheduler, 'flaky');
    assert.deepEqual(runs.map((r) => [r.attempt, r.trigger, r.status, secs(r.startedAt)]), [
      [1, 'schedule', 'failed', 0],
      [2, 'retry', 'failed', 5], // 0.5 × 10 s
      [3, 'retry', 'failed', 15], // + 0.5 × 20 s
      [4, 'retry', 'succeeded', 27.5], // + 0.5 × min(25, 40) s
    ]);
    assert.ok(runs.every((r) => r.scheduledFor.getTime() === T0));
    assert.equal(runs[0]?.retryAt?.getTime(), T0 + 5000);
    assert.equal(runs[3]?.retryAt, null);
    await h.scheduler.stop();
  });

  it('retryOn decides which errors are worth another attempt; timeouts are retried too', async () => {
    const h = harness({ random: () => 0 });
    h.scheduler.add({
      name: 'permanent',
      schedule: { at: new Date(T0) },
      retry: { attempts: 3, retryOn: (e) => (e as Error).message !== 'permanent' },
      handler: () => { throw new Error('permanent'); },
    });
    h.scheduler.add({ name: 'times-out', schedule: { at: new Date(T0) }, timeout: '1s', retry: { attempts: 2 }, handler: work(h.clock, 5000) });
    await h.scheduler.start();
    await h.clock.advance(10_000);
    assert.deepEqual((await runsOf(h.scheduler, 'permanent')).map((r) => r.status), ['failed']);
    assert.deepEqual((await runsOf(h.scheduler, 'times-out')).map((r) => [r.attempt, r.status]), [[1, 'timed_out'], [2, 'timed_out']]);
    await h.scheduler.stop();
  });
});

describe('overlap', () => {
  it('skip (default): a tick during a run is recorded skipped with reason overlap', async () => {
    const h = harness();
    h.scheduler.add({ name: 'long', schedule: { every: '1m' }, handler: work(h.clock, 150_000) });
    await h.scheduler.start();
    await h.clock.advance(5 * 60_000);
    const runs = await runsOf(h.scheduler, 'long');
    assert.deepEqual(runs.map((r) => [secs(r.scheduledFor), r.status, r.skipReason]), [
      [0, 'succeeded', null],
      [60, 'skipped', 'overlap'],
      [120, 'skipped', 'overlap'],
      [180, 'running', null], // ends at 330
      [240, 'skipped', 'overlap'],
      [300, 'skipped', 'overlap'],
    ]);
    await h.scheduler.stop({ timeout: 0 });
  });

  it('queue: one tick waits and runs right after the current run; more are skipped', async () => {
    const h = harness();
    h.scheduler.add({ name: 'q', schedule: { every: '1m' }, overlap: 'queue', handler: work(h.clock, 150_000) });
    await h.scheduler.start();
    await h.clock.advance(5 * 60_000);
    const runs = await runsOf(h.scheduler, 'q');
    assert.deepEqual(runs.map((r) => [secs(r.scheduledFor), r.status, secs(r.startedAt)]), [
      [0, 'succeeded', 0],
      [120, 'skipped', null], // the queue already held 60
      [60, 'succeeded', 150], // queued at 60, ran when 0 finished
      [240, 'skipped', null], // the queue already held 180
      [180, 'running', 300],
    ]);
    assert.equal(runs[1]?.skipReason, 'overlap');
    await h.scheduler.stop({ timeout: 0 });
  });

  it('allow: runs concurrently up to maxConcurrent, then skips', async () => {
    const h = harness();
    h.scheduler.add({ name: 'par', schedule: { every: '1m' }, overlap: 'allow', maxConcurrent: 2, handler: work(h.clock, 150_000) });
    await h.scheduler.start();
    await h.clock.advance(2 * 60_000);
    const runs = await runsOf(h.scheduler, 'par');
    assert.deepEqual(runs.map((r) => [secs(r.scheduledFor), r.status]), [[0, 'running'], [60, 'running'], [120, 'skipped']]);
    await h.clock.advance(3 * 60_000);
    await h.scheduler.stop({ timeout: 0 });
  });

  it('replace: the running run is aborted (cancelled) and the new one starts', async () => {
    const h = harness();
    h.scheduler.add({ name: 'rep', schedule: { every: '1m' }, overlap: 'replace', handler: work(h.clock, 90_000) });
    await h.scheduler.start();
    await h.clock.advance(2 * 60_000 + 1);
    const runs = await runsOf(h.scheduler, 'rep');
    assert.deepEqual(runs.map((r) => [secs(r.scheduledFor), r.status]), [[0, 'cancelled'], [60, 'cancelled'], [120, 'running']]);
    assert.equal(runs[0]?.error?.code, 'ERR_RUN_CANCELLED');
    assert.match(runs[0]?.error?.message ?? '', /replaced/);
    await h.scheduler.stop({ timeout: 0 });
  });
});

describe('priority and concurrency', () => {
  it('when slots are scarce, higher priority then earlier due instant goes first', async () => {
    const h = harness({ concurrency: 1 });
    const order: string[] = [];
    const task = (name: string, priority: 'low' | 'normal' | 'high' | number, at: number) =>
      h.scheduler.add({ name, priority, schedule: { at: new Date(T0 + at) }, handler: async (ctx) => { order.push(ctx.task); await h.clock.sleep(1000); } });
    task('blocker', 'normal', 0);
    task('low', 'low', 100);
    task('normal-late', 'normal', 200);
    task('normal-early', 'normal', 150);
    task('high', 'high', 300);
    task('urgent', 50, 400);
    await h.scheduler.start();
    await h.clock.advance(10_000);
    assert.deepEqual(order, ['blocker', 'urgent', 'high', 'normal-early', 'normal-late', 'low']);
    const lateness = Object.fromEntries((await runsOf(h.scheduler)).map((r) => [r.task, r.latenessMs]));
    assert.equal(lateness.low, 4900, 'low waited for five runs');
    await h.scheduler.stop();
  });

  it('defaults from the scheduler apply to tasks that do not set them', async () => {
    const h = harness({ defaults: { timeout: '2s', priority: 'low' } });
    h.scheduler.add({ name: 'd', schedule: { at: new Date(T0) }, handler: work(h.clock, 10_000) });
    await h.scheduler.start();
    await h.clock.advance(3000);
    assert.equal(h.scheduler.task('d')?.priority, -1);
    assert.equal((await runsOf(h.scheduler, 'd'))[0]?.status, 'timed_out');
    await h.scheduler.stop();
  });
});

describe('late ticks', () => {
  it('ticks that came due together after a stall each run, in order, late, not collapsed', async () => {
    const h = harness();
    h.scheduler.add({ name: 'sec', schedule: { every: '1s' }, handler: () => {} });
    await h.scheduler.start();
    await h.clock.advance(1000);
    h.clock.block(2_500);
    await h.clock.advance(0);
    const runs = await runsOf(h.scheduler, 'sec');
    assert.deepEqual(runs.map((r) => [secs(r.scheduledFor), r.status, r.latenessMs]), [
      [0, 'succeeded', 0],
      [1, 'succeeded', 0],
      [2, 'succeeded', 1500],
      [3, 'succeeded', 500],
    ]);
    await h.scheduler.stop();
  });
});
