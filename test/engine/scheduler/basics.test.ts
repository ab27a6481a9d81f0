import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TaskContext } from '../../../src/index.ts';
import { harness, runsOf, secs, T0, work } from '../../helpers.ts';

describe('scheduler basics (virtual time)', () => {
  it('runs an every task at anchor + k·interval with zero lateness, and records each run', async () => {
    const h = harness();
    h.scheduler.add({ name: 'tick', schedule: { every: '1m' }, handler: () => ({ ok: true }) });
    await h.scheduler.start();
    await h.clock.advance(5 * 60_000);
    const runs = await runsOf(h.scheduler, 'tick');
    assert.deepEqual(runs.map((r) => secs(r.scheduledFor)), [0, 60, 120, 180, 240, 300]);
    for (const run of runs) {
      assert.equal(run.status, 'succeeded');
      assert.equal(run.trigger, 'schedule');
      assert.equal(run.attempt, 1);
      assert.equal(run.latenessMs, 0);
      assert.equal(run.durationMs, 0);
      assert.deepEqual(run.output, { ok: true });
      assert.equal(run.instance, 'test');
      assert.equal(run.error, null);
    }
    await h.scheduler.stop();
  });

  it('honours initialDelay, and a long handler does not shift later ticks (no drift)', async () => {
    const h = harness();
    h.scheduler.add({ name: 'slow', schedule: { every: '10m', initialDelay: '5m' }, handler: work(h.clock, 7 * 60_000) });
    await h.scheduler.start();
    await h.clock.advance(60 * 60_000);
    const runs = await runsOf(h.scheduler, 'slow');
    assert.deepEqual(runs.map((r) => secs(r.startedAt)), [300, 900, 1500, 2100, 2700, 3300]);
    // The last one is still running at 60 min; the others took their full 7 minutes.
    assert.deepEqual(runs.map((r) => r.durationMs), [420_000, 420_000, 420_000, 420_000, 420_000, null]);
    await h.scheduler.stop({ timeout: 0 });
  });

  it('runs cron and at schedules at their instants (a tick at the start instant included)', async () => {
    const h = harness();
    h.scheduler.add({ name: 'cron', schedule: { cron: '*/15 * * * *' }, handler: () => {} });
    h.scheduler.add({ name: 'once', schedule: { at: new Date(T0 + 42 * 60_000) }, handler: () => {} });
    await h.scheduler.start();
    await h.clock.advance(60 * 60_000);
    assert.deepEqual((await runsOf(h.scheduler, 'cron')).map((r) => secs(r.scheduledFor)), [0, 900, 1800, 2700, 3600]);
    assert.deepEqual((await runsOf(h.scheduler, 'once')).map((r) => secs(r.scheduledFor)), [2520]);
    assert.equal(h.scheduler.task('once')?.nextRunAt, null);
    await h.scheduler.stop();
  });

  it('runs a cron job across a DST change on local wall-clock time', async () => {
    const h = harness({ startAt: '2026-03-27T12:00:00Z' });
    h.scheduler.add({ name: 'nightly', schedule: { cron: '30 2 * * *', timezone: 'Europe/Berlin' }, handler: () => {} });
    await h.scheduler.start();
    await h.clock.advanceTo('2026-03-31T00:00:00Z');
    assert.deepEqual((await runsOf(h.scheduler, 'nightly')).map((r) => r.startedAt?.toISOString()), [
      '2026-03-28T01:30:00.000Z',
      '2026-03-29T01:00:00.000Z',
      '2026-03-30T00:30:00.000Z',
    ]);
    await h.scheduler.stop();
  });

  it('jitter delays each tick by a stable offset below the jitter, the same on every instance', async () => {
    const a = harness();
    const b = harness();
    for (const h of [a, b]) {
      h.scheduler.add({ name: 'spread', schedule: { every: '1m' }, jitter: '30s', handler: () => {} });
      await h.scheduler.start();
      await h.clock.advance(10 * 60_000);
    }
    const ra = await runsOf(a.scheduler, 'spread');
    const rb = await runsOf(b.scheduler, 'spread');
    assert.deepEqual(ra.map((r) => r.dueAt.getTime()), rb.map((r) => r.dueAt.getTime()));
    const offsets = ra.map((r) => r.dueAt.getTime() - r.scheduledFor.getTime());
    assert.ok(offsets.every((o) => o >= 0 && o < 30_000), String(offsets));
    assert.ok(new Set(offsets).size > 5, 'offsets vary per tick');
    assert.ok(ra.every((r) => r.startedAt?.getTime() === r.dueAt.getTime()), 'starts at the jittered instant');
    await a.scheduler.stop();
    await b.scheduler.stop();
  });

  it('gives the handler its context', async () => {
    const h = harness();
    const seen: TaskContext[] = [];
    h.scheduler.add({
      name: 'ctx',
      schedule: { every: '1h' },
      handler: (ctx) => {
        seen.push(ctx);
        ctx.progress(0.5, 'halfway');
        ctx.logger.info({}, 'hello');
        return { n: seen.length };
      },
    });
    await h.scheduler.start();
    await h.clock.advance(60 * 60_000);
    const [first, second] = seen;
    assert.ok(first !== undefined && second !== undefined);
    assert.equal(first.task, 'ctx');
    assert.equal(first.attempt, 1);
    assert.equal(first.trigger, 'schedule');
    assert.equal(first.scheduledFor.getTime(), T0);
    assert.equal(first.idempotencyKey, 'ctx@2026-01-01T00:00:00.000Z');
    assert.ok(first.signal instanceof AbortSignal && !first.signal.aborted);
    assert.equal(first.lastSuccess, null);
    assert.deepEqual(second.lastSuccess?.output, { n: 1 });
    assert.equal(second.lastSuccess?.runId, first.runId);
    assert.ok(second.fencingToken > first.fencingToken, 'fencing tokens increase');
    const runs = await runsOf(h.scheduler, 'ctx');
    assert.deepEqual(runs[0]?.progress, { fraction: 0.5, message: 'halfway' });
    await h.scheduler.stop();
  });

  it('the context behaves like a plain object: spread, destructured, its signal read after a timeout', async () => {
    const h = harness();
    let spread: Record<string, unknown> = {};
    let signalAfterTimeout: AbortSignal | null = null;
    h.scheduler.add({
      name: 'spread',
      schedule: { at: new Date(T0) },
      handler: ({ progress, ...rest }) => {
        // A wrapper that passes a copy on, and a method taken off the object: both still work.
        spread = { ...rest };
        progress(0.25, 'a quarter');
      },
    });
    h.scheduler.add({
      name: 'late-reader',
      schedule: { at: new Date(T0) },
      timeout: '1s',
      handler: async (ctx) => {
        // The signal is first read after the timeout fired: it is already aborted, with the reason.
        await h.clock.sleep(1_500);
        signalAfterTimeout = ctx.signal;
        ctx.signal.throwIfAborted();
      },
    });
    await h.scheduler.start();
    await h.clock.advance(5_000);
    assert.deepEqual(Object.keys(spread).sort(), ['attempt', 'fencingToken', 'idempotencyKey', 'lastSuccess', 'log', 'logger', 'runId', 'scheduledFor', 'signal', 'task', 'trigger']);
    assert.equal(spread['idempotencyKey'], 'spread@2026-01-01T00:00:00.000Z');
    assert.equal((spread['scheduledFor'] as Date).getTime(), T0);
    assert.ok(spread['signal'] instanceof AbortSignal);
    const [spreadRun] = await runsOf(h.scheduler, 'spread');
    assert.deepEqual(spreadRun?.progress, { fraction: 0.25, message: 'a quarter' });
    assert.ok(signalAfterTimeout !== null && (signalAfterTimeout as AbortSignal).aborted);
    const [late] = await runsOf(h.scheduler, 'late-reader');
    assert.equal(late?.status, 'timed_out');
    assert.equal(late?.error?.name, 'RunTimeoutError');
    await h.scheduler.stop();
  });

  it('records a thrown value of any type as the run error', async () => {
    const h = harness();
    const throws: unknown[] = [new RangeError('out of range'), 'a string', 42, undefined, { message: 'an object' }];
    throws.forEach((value, i) => {
      h.scheduler.add({ name: `t${i}`, schedule: { at: new Date(T0) }, handler: async () => { throw value; } });
    });
    await h.scheduler.start();
    await h.clock.advance(0);
    const byTask = new Map((await runsOf(h.scheduler)).map((r) => [r.task, r]));
    assert.equal(byTask.get('t0')?.error?.name, 'RangeError');
    assert.match(byTask.get('t0')?.error?.stack ?? '', /RangeError: out of range/);
    assert.equal(byTask.get('t1')?.error?.message, 'a string');
    assert.equal(byTask.get('t2')?.error?.message, 'handler threw 42');
    assert.equal(byTask.get('t3')?.error?.message, 'handler threw undefined');
    assert.equal(byTask.get('t4')?.error?.message, 'an object');
    assert.ok([...byTask.values()].every((r) => r.status === 'failed'));
    await h.scheduler.stop();
  });

  it('stores output as JSON and reports output it cannot store', async () => {
    const h = harness({ maxOutputBytes: 100 });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    h.scheduler.add({ name: 'cyclic', schedule: { at: new Date(T0) }, handler: () => cyclic });
    h.scheduler.add({ name: 'big', schedule: { at: new Date(T0) }, handler: () => 'x'.repeat(1000) });
    await h.scheduler.start();
    await h.clock.advance(0);
    const runs = await runsOf(h.scheduler);
    assert.equal(runs.find((r) => r.task === 'cyclic')?.output, null);
    assert.equal((runs.find((r) => r.task === 'big')?.output as { truncated: boolean }).truncated, true);
    assert.ok(runs.every((r) => r.status === 'succeeded'));
    assert.equal(h.errors.length, 2);
    await h.scheduler.stop();
  });

  it("a failed run keeps the output its error carries (a command's stdout and stderr, a check's findings)", async () => {
    const h = harness();
    h.scheduler.add({ name: 'carries', schedule: { every: '1h' }, handler: () => { throw Object.assign(new Error('exit 3'), { output: { stderr: 'disk full', exitCode: 3 } }); } });
    h.scheduler.add({ name: 'plain', schedule: { every: '1h' }, handler: () => { throw new Error('no output'); } });
    h.scheduler.add({ name: 'hostile', schedule: { every: '1h' }, handler: () => { throw Object.defineProperty(new Error('x'), 'output', { get: () => { throw new Error('getter'); } }); } });
    await h.scheduler.start();
    await h.clock.advance(0);
    await h.scheduler.onIdle();
    await h.scheduler.stop();
    const byTask = new Map(h.finished.map((r) => [r.task, r]));
    assert.deepEqual([byTask.get('carries')?.status, byTask.get('carries')?.output], ['failed', { stderr: 'disk full', exitCode: 3 }]);
    assert.deepEqual([byTask.get('plain')?.status, byTask.get('plain')?.output], ['failed', null]);
    assert.deepEqual([byTask.get('hostile')?.status, byTask.get('hostile')?.output], ['failed', null]);
  });

  it('emits typed events in order, and tasks() reports next and last runs', async () => {
    const h = harness();
    const order: string[] = [];
    h.scheduler.on('task:added', (t) => order.push(`added:${t.name}`));
    h.scheduler.on('run:started', (r) => order.push(`started:${r.task}`));
    h.scheduler.on('run:progress', (p) => order.push(`progress:${p.fraction}`));
    h.scheduler.on('run:finished', (r) => order.push(`finished:${r.status}`));
    h.scheduler.add({ name: 'ev', schedule: { every: '1m' }, handler: (ctx) => ctx.progress(1) });
    await h.scheduler.start();
    await h.clock.advance(0);
    assert.deepEqual(order, ['added:ev', 'started:ev', 'progress:1', 'finished:succeeded']);
    const [info] = h.scheduler.tasks();
    assert.equal(info?.nextRunAt?.getTime(), T0 + 60_000);
    assert.equal(info?.lastRun?.status, 'succeeded');
    assert.equal(info?.scheduleText, 'every 1m');
    assert.deepEqual(info?.schedule, { every: '1m' });
    await h.scheduler.stop();
  });

  it('a throwing listener cannot break the scheduler', async () => {
    const h = harness();
    h.scheduler.on('run:started', () => {
      throw new Error('bad listener');
    });
    h.scheduler.add({ name: 'robust', schedule: { every: '1m' }, handler: () => {} });
    await h.scheduler.start();
    await h.clock.advance(2 * 60_000);
    assert.equal(h.finished.length, 3);
    assert.equal(h.errors.length, 3);
    await h.scheduler.stop();
  });

  it('onIdle resolves once running work is done', async () => {
    const h = harness();
    h.scheduler.add({ name: 'w', schedule: { every: '1h' }, handler: work(h.clock, 1000) });
    await h.scheduler.start();
    await h.clock.settle();
    let idle = false;
    const waiting = h.scheduler.onIdle().then(() => (idle = true));
    await h.clock.advance(999);
    assert.equal(idle, false);
    await h.clock.advance(1);
    await waiting;
    assert.equal(idle, true);
    await h.scheduler.stop();
  });
});
