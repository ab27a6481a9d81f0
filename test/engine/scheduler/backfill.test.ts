import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { InvalidOptionError, sqliteStore } from '../../../src/index.ts';
import { createTestClock } from '../../../src/testing/index.ts';
import { type Harness, harness, runsOf, secs, work } from '../../helpers.ts';

const HOUR = 3_600_000;

describe('backfill (virtual time)', () => {
  it('runs every instant of the range once, one at a time, as trigger backfill, and closes itself', async () => {
    const h = harness({ startAt: '2026-01-02T00:00:00Z' });
    let running = 0;
    let most = 0;
    h.scheduler.add({
      name: 'report',
      schedule: { cron: '0 */6 * * *' },
      handler: async (ctx) => {
        running++;
        most = Math.max(most, running);
        await h.clock.sleep(60_000, ctx.signal);
        running--;
        return { for: ctx.scheduledFor.toISOString() };
      },
    });
    await h.scheduler.start();
    // 2026-01-01 00:00 to 18:00 (T0 is 2026-01-01): 4 instants, to inclusive.
    const backfill = await h.scheduler.backfill('report', { from: '2026-01-01T00:00:00Z', to: '2026-01-01T18:00:00Z' }, { by: 'ops' });
    assert.equal(backfill.progress.total, 4);
    assert.equal(backfill.requestedBy, 'ops');
    await h.clock.advance(10 * 60_000);
    const runs = (await runsOf(h.scheduler, 'report')).filter((r) => r.trigger === 'backfill');
    assert.deepEqual(runs.map((r) => secs(r.scheduledFor)), [0, 6, 12, 18].map((x) => x * 3600));
    assert.ok(runs.every((r) => r.status === 'succeeded' && r.slot.startsWith(`b:${backfill.id}:`)));
    assert.equal(most, 1, 'one at a time');
    // Each started after the previous ended.
    for (let i = 1; i < runs.length; i++) assert.ok((runs[i]?.startedAt?.getTime() ?? 0) >= (runs[i - 1]?.finishedAt?.getTime() ?? Infinity));
    const done = await h.scheduler.getBackfill(backfill.id);
    assert.equal(done?.status, 'done');
    assert.deepEqual(done?.progress, { total: 4, pending: 0, running: 0, succeeded: 4, failed: 0, cancelled: 0, skipped: 0 });
    assert.deepEqual(h.errors, []);
    await h.scheduler.stop();
  });

  it('with overlap allow, runs up to maxConcurrent at once', async () => {
    const h = harness({ startAt: '2026-01-02T00:00:00Z' });
    let running = 0;
    let most = 0;
    h.scheduler.add({
      name: 'fan',
      schedule: { every: '1h' },
      overlap: 'allow',
      maxConcurrent: 3,
      handler: async (ctx) => {
        running++;
        most = Math.max(most, running);
        await h.clock.sleep(60_000, ctx.signal);
        running--;
      },
    });
    await h.scheduler.start();
    // An `every` task's cadence reaches back before it existed (its anchor is now).
    const backfill = await h.scheduler.backfill('fan', { from: T(0), to: T(23 * HOUR) });
    assert.equal(backfill.progress.total, 24);
    await h.clock.advance(20 * 60_000);
    assert.equal(most, 3);
    assert.equal((await h.scheduler.getBackfill(backfill.id))?.progress.succeeded, 24);
    await h.scheduler.stop();
  });

  it('refuses bad ranges naming the field, and stores nothing', async () => {
    const h = harness({ startAt: '2026-01-02T00:00:00Z', backfillLimit: 10 });
    h.scheduler.add({ name: 'hourly', schedule: { cron: '0 * * * *' }, handler: () => {} });
    await h.scheduler.start();
    const refused = async (range: unknown, pattern: RegExp) => {
      await assert.rejects(h.scheduler.backfill('hourly', range as never), (e: unknown) => e instanceof InvalidOptionError && pattern.test(e.message), String(pattern));
    };
    await refused({ from: 'yesterday', to: T(HOUR) }, /from: .*ISO-8601/);
    await refused({ from: T(0) }, /to: .*ISO-8601/);
    await refused(null, /from/);
    await refused({ from: T(2 * HOUR), to: T(HOUR) }, /from: .*at or before to/);
    await refused({ from: T(0), to: '2027-01-01T00:00:00Z' }, /to: .*in the past/);
    await refused({ from: T(0), to: T(20 * HOUR) }, /more than backfillLimit \(10\)/);
    await refused({ from: T(HOUR + 1), to: T(HOUR + 2) }, /no instant/);
    await assert.rejects(h.scheduler.backfill('hourly', { from: T(0), to: T(HOUR) }, { by: 'a\u0000b' }), /by: /);
    await assert.rejects(h.scheduler.backfill('nope', { from: T(0), to: T(HOUR) }), /no task named "nope"/);
    assert.deepEqual(await h.scheduler.backfills(), []);
    assert.deepEqual(await runsOf(h.scheduler, 'hourly'), []);
    await h.scheduler.stop();
  });

  it('a cancel stops what is left and cancels the running run', async () => {
    const h = harness({ startAt: '2026-01-02T00:00:00Z' });
    h.scheduler.add({ name: 'slow', schedule: { cron: '0 * * * *' }, handler: work(h.clock, 10 * 60_000) });
    await h.scheduler.start();
    const backfill = await h.scheduler.backfill('slow', { from: T(0), to: T(9 * HOUR) });
    await h.clock.advance(25 * 60_000);
    const cancelled = await h.scheduler.cancelBackfill(backfill.id);
    assert.equal(cancelled.status, 'cancelled');
    await h.clock.advance(60 * 60_000);
    const all = await runsOf(h.scheduler, 'slow');
    // The live tick due at the request went first (00:00-00:10), then the backfill (00:10-00:20, 00:20-cancel).
    assert.deepEqual(all.map((r) => [r.trigger, r.status]).slice(0, 3), [['schedule', 'succeeded'], ['backfill', 'succeeded'], ['backfill', 'cancelled']]);
    const after = await h.scheduler.getBackfill(backfill.id);
    assert.deepEqual(after?.progress, { total: 10, pending: 8, running: 0, succeeded: 1, failed: 0, cancelled: 1, skipped: 0 });
    await assert.rejects(h.scheduler.cancelBackfill('nope'), /no backfill with id "nope"/);
    await h.scheduler.stop();
  });

  it('waits while the task is paused, and for a live run of the task (never records a skip)', async () => {
    const h = harness({ startAt: '2026-01-02T00:00:00Z' });
    h.scheduler.add({ name: 'p', schedule: { cron: '*/30 * * * *' }, handler: work(h.clock, 20 * 60_000) });
    await h.scheduler.start();
    await h.scheduler.pause('p');
    const backfill = await h.scheduler.backfill('p', { from: T(0), to: T(2 * HOUR) });
    await h.clock.advance(HOUR);
    assert.equal((await h.scheduler.getBackfill(backfill.id))?.progress.pending, 5, 'nothing ran while paused');
    await h.scheduler.resume('p');
    // Ends between live runs (each :00 and :30 for 20 minutes): nothing runs at the stop.
    await h.clock.advance(4 * HOUR + 25 * 60_000);
    const all = await runsOf(h.scheduler, 'p');
    const backfilled = all.filter((r) => r.trigger === 'backfill');
    assert.equal(backfilled.length, 5);
    assert.ok(backfilled.every((r) => r.status === 'succeeded'));
    // Live ticks and backfill runs never overlapped (overlap: skip allows one run at a time): a live
    // tick that came while a backfill run ran was skipped, as any overlapping tick is.
    const ran = all.filter((r) => r.startedAt !== null).sort((a, b) => (a.startedAt?.getTime() ?? 0) - (b.startedAt?.getTime() ?? 0));
    for (let i = 1; i < ran.length; i++) assert.ok((ran[i]?.startedAt?.getTime() ?? 0) >= (ran[i - 1]?.finishedAt?.getTime() ?? Infinity), 'no overlap');
    assert.equal((await h.scheduler.getBackfill(backfill.id))?.status, 'done');
    await h.scheduler.stop();
  });

  it('live ticks are not crowded out: a backfill run starts only when it is likely to end before the next live tick, or once a live tick has had its turn', async () => {
    const h = harness({ startAt: '2026-01-02T00:00:00Z' });
    h.scheduler.add({ name: 'busy', schedule: { every: '10m' }, handler: work(h.clock, 3 * 60_000) });
    await h.scheduler.start();
    const backfill = await h.scheduler.backfill('busy', { from: T(0), to: T(5 * HOUR) });
    await h.clock.advance(3 * HOUR + 60_000);
    const all = await runsOf(h.scheduler, 'busy');
    const live = all.filter((r) => r.trigger === 'schedule');
    assert.equal(live.length, 19, 'every live tick in 3 h is recorded');
    assert.deepEqual(live.filter((r) => r.status === 'skipped').map((r) => r.skipReason), [], 'none skipped for the backfill');
    const done = (await h.scheduler.getBackfill(backfill.id))?.progress.succeeded ?? 0;
    assert.ok(done >= 15, `the backfill went on between live ticks (${done} of 31)`);
    const stopping = h.scheduler.stop({ timeout: '5m' });
    await h.clock.advance(5 * 60_000);
    await stopping;
  });

  it('a failed instant is retried by the task\'s retry policy, waiting its turn (never skipped); the backfill closes after its retries; a cancel drops pending retries', async () => {
    const h = harness({ startAt: '2026-01-02T00:00:00Z' });
    h.scheduler.add({
      name: 'flaky',
      schedule: { cron: '0 0 1 1 *' },
      retry: { attempts: 2, backoff: '1m' },
      handler: async (ctx) => {
        await h.clock.sleep(30_000, ctx.signal);
        if (ctx.attempt === 1) throw new Error('first attempt fails');
      },
    });
    await h.scheduler.start();
    const backfill = await h.scheduler.backfill('flaky', { from: '2020-01-01T00:00:00Z', to: '2025-12-31T00:00:00Z' });
    assert.equal(backfill.progress.total, 6);
    await h.clock.advance(30 * 60_000);
    const runs = (await runsOf(h.scheduler, 'flaky')).filter((r) => r.slot.startsWith(`b:${backfill.id}:`));
    assert.deepEqual(runs.filter((r) => r.status === 'skipped'), [], 'no retry recorded skipped');
    assert.equal(runs.filter((r) => r.attempt === 2 && r.status === 'succeeded').length, 6, 'every retry ran');
    const record = await h.scheduler.getBackfill(backfill.id);
    assert.deepEqual([record?.status, record?.progress.succeeded], ['done', 6]);
    // Cancelled while a retry waits: the retry does not come.
    const second = await h.scheduler.backfill('flaky', { from: '2025-01-01T00:00:00Z', to: '2025-12-31T00:00:00Z' });
    await h.clock.advance(40_000);
    await h.scheduler.cancelBackfill(second.id);
    await h.clock.advance(10 * 60_000);
    const secondRuns = (await runsOf(h.scheduler, 'flaky')).filter((r) => r.slot.startsWith(`b:${second.id}:`));
    assert.deepEqual(secondRuns.map((r) => [r.attempt, r.status]), [[1, 'failed']]);
    await assert.rejects(h.scheduler.cancelBackfill(second.id), (e: unknown) => (e as { code?: string }).code === 'ERR_BACKFILL_NOT_RUNNING');
    await h.scheduler.stop();
  });

  it('two replicas on one SQLite file run each instant once, and when one stops the other carries on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'caretaker-backfill-'));
    try {
      const clock = createTestClock({ start: '2026-01-02T00:00:00Z' });
      const path = join(dir, 'state.db');
      const make = (instance: string) => {
        const r = harness({ clock, store: sqliteStore({ path }), instance, pollInterval: '5s' });
        r.scheduler.add({ name: 'job', schedule: { cron: '0 * * * *' }, handler: work(clock, 30_000) });
        return r;
      };
      const [a, b] = [make('a'), make('b')] as [Harness, Harness];
      await a.scheduler.start();
      await b.scheduler.start();
      const backfill = await a.scheduler.backfill('job', { from: T(0), to: T(23 * HOUR) });
      await clock.advance(3 * 60_000);
      // A stops mid-run: its run ends within the stop; what it had not claimed is left to b.
      const stopped = a.scheduler.stop();
      await clock.advance(60_000);
      await stopped;
      await clock.advance(20 * 60_000);
      const runs = (await runsOf(b.scheduler, 'job')).filter((r) => r.trigger === 'backfill');
      assert.deepEqual(runs.map((r) => secs(r.scheduledFor)).sort((x, y) => (x ?? 0) - (y ?? 0)), Array.from({ length: 24 }, (_, i) => i * 3600));
      assert.ok(new Set(runs.map((r) => r.instance)).has('b'), 'the other replica carried on');
      assert.equal((await b.scheduler.getBackfill(backfill.id))?.status, 'done');
      await b.scheduler.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function T(offsetMs: number): string {
  return new Date(Date.parse('2026-01-01T00:00:00Z') + offsetMs).toISOString();
}
