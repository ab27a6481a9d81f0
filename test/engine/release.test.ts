/**
 * Handlers claimed ahead and released together at their instant (decision 036): every handler
 * starts before any run's bookkeeping (events, timeouts), events of a run stay in order, and a
 * timeout still counts from the run's start. Virtual time, with a clock that can yield turns, so
 * the scheduler claims ahead and releases at the instant as it does on the system clock.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createScheduler } from '../../src/index.ts';
import { createTestClock, type TestClock } from '../../src/testing/index.ts';
import { realTurns, turningClock } from '../helpers.ts';

/** Moves up to the instant as time does: past the claim window (the claims go ahead), then to the instant (the release). */
async function reachInstant(clock: TestClock, instant: number): Promise<void> {
  await clock.advanceTo(instant - 3);
  await realTurns(5);
  await clock.advanceTo(instant);
  await realTurns(20);
}

describe('handlers released together (decision 036)', () => {
  it('all of an instant’s handlers start before any run:started, progress or timeout bookkeeping; each run’s events stay in order', async () => {
    const clock = createTestClock({ start: '2026-01-01T00:00:30.000Z' });
    const scheduler = createScheduler({ clock: turningClock(clock), instance: 'solo' });
    const log: string[] = [];
    const count = 50;
    for (let i = 0; i < count; i++) {
      scheduler.add({
        name: `t${i}`,
        schedule: { cron: '* * * * *' },
        timeout: '10s',
        handler: (ctx) => {
          log.push(`start t${i} at ${clock.now()}`);
          // Progress reported synchronously, before the release is over: still after its own run:started.
          if (i % 10 === 0) ctx.progress(0.5, 'half');
        },
      });
    }
    scheduler.on('run:started', (run) => log.push(`started ${run.task}`));
    scheduler.on('run:progress', (p) => log.push(`progress ${p.task}`));
    await scheduler.start();
    const instant = Date.parse('2026-01-01T00:01:00.000Z');
    // Up to the claim window, then up to the instant: the claims go ahead, the handlers wait.
    await clock.advanceTo(instant - 3);
    await realTurns(5);
    assert.equal(log.length, 0, `nothing starts before the instant: ${log.slice(0, 4).join(", ")}`);
    await clock.advanceTo(instant);
    await realTurns(20);
    const starts = log.filter((l) => l.startsWith('start t'));
    assert.equal(starts.length, count, 'every handler started');
    assert.ok(starts.every((l) => l.endsWith(`at ${instant}`)), 'each at its instant');
    // A handler that reports progress at once brings its own run:started forward (its events stay
    // in order); every other run's event waits until the last handler has started.
    const lastStart = log.findLastIndex((l) => l.startsWith('start t'));
    const early = log.slice(0, lastStart).filter((l) => !l.startsWith('start t') && !/ t\d*0$/.test(l));
    assert.deepEqual(early, [], 'no bookkeeping of other runs before the last handler started');
    for (let i = 0; i < count; i += 10) {
      const started = log.indexOf(`started t${i}`);
      const progress = log.indexOf(`progress t${i}`);
      assert.ok(started >= 0 && progress > started, `t${i}: run:started before its progress`);
    }
    assert.equal(log.filter((l) => l.startsWith('started')).length, count, 'run:started once per run');
    await scheduler.stop();
  });

  it('a timeout armed after the release still counts from the handler’s start', async () => {
    const clock = createTestClock({ start: '2026-01-01T00:00:30.000Z' });
    const scheduler = createScheduler({ clock: turningClock(clock), instance: 'solo' });
    const ended: { task: string; status: string; at: number }[] = [];
    for (let i = 0; i < 3; i++) {
      scheduler.add({ name: `slow${i}`, schedule: { cron: '* * * * *' }, timeout: '2s', handler: (ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))) });
    }
    scheduler.on('run:finished', (run) => ended.push({ task: run.task, status: run.status, at: run.finishedAt?.getTime() ?? Number.NaN }));
    await scheduler.start();
    const instant = Date.parse('2026-01-01T00:01:00.000Z');
    await reachInstant(clock, instant);
    await clock.advance(1_999);
    assert.equal(ended.length, 0, 'not before the timeout');
    await clock.advance(1);
    await realTurns(20);
    assert.deepEqual(ended.map((e) => [e.task, e.status, e.at]).sort(), [0, 1, 2].map((i) => [`slow${i}`, 'timed_out', instant + 2_000]));
    await scheduler.stop();
  });

  it('a block of the loop over the instant: every due handler starts in the first turn after it, together; a block that ends before the instant makes none late', async () => {
    const clock = createTestClock({ start: '2026-01-01T00:00:30.000Z' });
    const scheduler = createScheduler({ clock: turningClock(clock), instance: 'solo' });
    const starts = new Map<string, number[]>();
    for (let i = 0; i < 40; i++) {
      scheduler.add({ name: `t${i}`, schedule: { cron: '* * * * *' }, handler: (ctx) => void (starts.get(ctx.scheduledFor.toISOString()) ?? starts.set(ctx.scheduledFor.toISOString(), []).get(ctx.scheduledFor.toISOString()))?.push(clock.now()) });
    }
    await scheduler.start();
    const first = Date.parse('2026-01-01T00:01:00.000Z');
    // Blocked from before the claim window until 30 ms after the instant.
    await clock.advanceTo(first - 40);
    clock.block(70);
    await clock.advance(0);
    await realTurns(20);
    assert.deepEqual(starts.get(new Date(first).toISOString()), Array(40).fill(first + 30), 'all 40 at the end of the block, together');
    // Blocked over the claim window, released 1 ms before the instant: none late.
    const second = first + 60_000;
    await clock.advanceTo(second - 40);
    clock.block(39);
    await clock.advance(0);
    await realTurns(5);
    await clock.advanceTo(second);
    await realTurns(20);
    assert.deepEqual(starts.get(new Date(second).toISOString()), Array(40).fill(second), 'all 40 at the instant');
    await scheduler.stop();
  });

  it('timeouts count from each handler’s own start: a run started alone, and a later handler of a release (hostile review)', async () => {
    const sleep = (clock: TestClock, ms: number) => new Promise<void>((resolve) => clock.setTimer(resolve, ms));
    // Alone (no turns: claimed at the instant), with 300 ms of synchronous work and a 200 ms timeout.
    {
      const clock = createTestClock({ start: '2026-01-01T00:00:30.000Z' });
      const scheduler = createScheduler({ clock, instance: 'solo' });
      const ended: { status: string; ran: number }[] = [];
      scheduler.add({ name: 'parse', schedule: { cron: '* * * * *' }, timeout: '200ms', handler: (ctx) => {
        clock.block(300);
        return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
      } });
      scheduler.on('run:finished', (r) => ended.push({ status: r.status, ran: (r.finishedAt?.getTime() ?? 0) - (r.startedAt?.getTime() ?? 0) }));
      await scheduler.start();
      await clock.advance(31_000);
      await scheduler.onIdle();
      assert.deepEqual(ended.map((e) => e.status), ['timed_out']);
      assert.ok((ended[0]?.ran ?? 0) <= 300, `aborted when the loop was free again, not 200 ms after the synchronous part: ran ${ended[0]?.ran} ms`);
      await scheduler.stop();
    }
    // Released together: the first handler blocks 300 ms; the second needs 50 ms of its 200 ms.
    {
      const clock = createTestClock({ start: '2026-01-01T00:00:30.000Z' });
      const scheduler = createScheduler({ clock: turningClock(clock), instance: 'solo' });
      const ended: Record<string, string> = {};
      scheduler.add({ name: 'a-hog', schedule: { cron: '* * * * *' }, timeout: '10s', handler: () => void clock.block(300) });
      scheduler.add({ name: 'b-victim', schedule: { cron: '* * * * *' }, timeout: '200ms', handler: () => sleep(clock, 50) });
      scheduler.on('run:finished', (r) => (ended[r.task] = r.status));
      await scheduler.start();
      const instant = Date.parse('2026-01-01T00:01:00.000Z');
      await reachInstant(clock, instant);
      await clock.advance(1_000);
      await realTurns(20);
      assert.deepEqual(ended, { 'a-hog': 'succeeded', 'b-victim': 'succeeded' });
      await scheduler.stop();
    }
  });

  it('a task whose previous run is still going is claimed at its instant, not ahead: runs that end inside the claim lead are not skipped or replaced (hostile review)', async () => {
    for (const overlap of ['skip', 'replace'] as const) {
      const clock = createTestClock({ start: '2026-01-01T00:00:00.500Z' });
      const scheduler = createScheduler({ clock: turningClock(clock), instance: 'solo' });
      const outcomes: string[] = [];
      // Every second, each run taking 995 ms: it ends 5 ms before the next tick, inside the claim lead.
      scheduler.add({ name: 'long', schedule: { every: '1s', anchor: '2026-01-01T00:00:00Z' }, overlap, handler: (ctx) => new Promise<void>((resolve, reject) => {
        const timer = clock.setTimer(resolve, 995);
        ctx.signal.addEventListener('abort', () => { timer.cancel(); reject(ctx.signal.reason); });
      }) });
      scheduler.on('run:finished', (r) => outcomes.push(r.status));
      scheduler.on('tick:skipped', (r) => outcomes.push(`skipped (${r.skipReason})`));
      await scheduler.start();
      const anchor = Date.parse('2026-01-01T00:00:00Z');
      for (let k = 1; k <= 5; k++) {
        await clock.advanceTo(anchor + k * 1_000 - 3);
        await realTurns(5);
        await clock.advanceTo(anchor + k * 1_000);
        await realTurns(10);
      }
      await clock.advance(999);
      await realTurns(20);
      assert.ok(outcomes.length >= 4, `runs ended: ${outcomes.join(', ')}`);
      assert.deepEqual(outcomes.filter((o) => o !== 'succeeded'), [], `${overlap}: every run succeeded`);
      await scheduler.stop();
    }
  });
});
