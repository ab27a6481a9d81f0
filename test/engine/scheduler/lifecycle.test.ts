import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CatchUpPolicy, InvalidOptionError, memoryStore, RunNotFoundError, ShutdownError, type Store, TaskNotFoundError } from '../../../src/index.ts';
import { createTestClock, type TestClock } from '../../../src/testing/index.ts';
import { parseSchedule } from '../../../src/engine/schedules/index.ts';
import { harness, runsOf, secs, T0, work } from '../../helpers.ts';

const H = 3_600_000;

describe('restart and catch-up', () => {
  for (const [policy, expected] of [
    // Ticks missed and not run are one record for the outage (skippedTicks says how many).
    ['latest', [[0, 'schedule', 'succeeded', 1], [1, 'schedule', 'succeeded', 1], [2, 'schedule', 'skipped', 2], [4, 'catch-up', 'succeeded', 1], [5, 'schedule', 'succeeded', 1]]],
    ['all', [[0, 'schedule', 'succeeded', 1], [1, 'schedule', 'succeeded', 1], [2, 'catch-up', 'succeeded', 1], [3, 'catch-up', 'succeeded', 1], [4, 'catch-up', 'succeeded', 1], [5, 'schedule', 'succeeded', 1]]],
    ['none', [[0, 'schedule', 'succeeded', 1], [1, 'schedule', 'succeeded', 1], [2, 'schedule', 'skipped', 3], [5, 'schedule', 'succeeded', 1]]],
  ] as const) {
    it(`catchUp: ${policy} decides what ticks missed during downtime become`, async () => {
      const clock = createTestClock();
      const store = memoryStore();
      const def = { name: 'hourly', schedule: { every: '1h' }, catchUp: policy as CatchUpPolicy, handler: () => {} };
      const first = harness({ clock, store });
      first.scheduler.add(def);
      await first.scheduler.start();
      await clock.advance(1 * H + 1);
      await first.scheduler.stop();
      await clock.advance(3.5 * H); // down from 1h to 4.5h: ticks 2h, 3h, 4h missed
      const second = harness({ clock, store });
      second.scheduler.add(def);
      await second.scheduler.start();
      await clock.advance(0.5 * H);
      const runs = (await runsOf(second.scheduler, 'hourly')).sort((a, b) => a.scheduledFor.getTime() - b.scheduledFor.getTime());
      assert.deepEqual(runs.map((r) => [secs(r.scheduledFor)! / 3600, r.trigger, r.status, r.status === 'skipped' ? r.skippedTicks : 1]), expected);
      for (const r of runs.filter((r) => r.status === 'skipped')) assert.equal(r.skipReason, 'missed');
      await second.scheduler.stop();
    });
  }

  for (const [policy, expected] of [
    ['latest', [[0, 'schedule', 'succeeded'], [1, 'schedule', 'skipped'], [3, 'schedule', 'succeeded'], [4, 'schedule', 'succeeded']]],
    ['all', [[0, 'schedule', 'succeeded'], [1, 'catch-up', 'succeeded'], [2, 'catch-up', 'succeeded'], [3, 'schedule', 'succeeded'], [4, 'schedule', 'succeeded']]],
    ['none', [[0, 'schedule', 'succeeded'], [1, 'schedule', 'skipped'], [3, 'schedule', 'succeeded'], [4, 'schedule', 'succeeded']]],
  ] as const) {
    it(`catchUp: ${policy} treats a tick due less than a second before start as live, not missed`, async () => {
      const clock = createTestClock();
      const store = memoryStore();
      const def = { name: 'hourly', schedule: { every: '1h' }, catchUp: policy as CatchUpPolicy, handler: () => {} };
      const first = harness({ clock, store });
      first.scheduler.add(def);
      await first.scheduler.start();
      await clock.advance(1);
      await first.scheduler.stop();
      await clock.advance(3 * H + 400 - 1); // back 400 ms after the 3h tick: 1h and 2h were missed
      const second = harness({ clock, store });
      second.scheduler.add(def);
      await second.scheduler.start();
      await clock.advance(1.5 * H);
      const runs = await runsOf(second.scheduler, 'hourly');
      assert.deepEqual(runs.map((r) => [secs(r.scheduledFor)! / 3600, r.trigger, r.status]), expected);
      assert.equal(runs.find((r) => secs(r.scheduledFor) === 3 * 3600)?.latenessMs, 400);
      await second.scheduler.stop();
    });
  }

  it('a replica starting while another claims a due tick late neither skips nor relabels that tick', async () => {
    // Replica a's claim of the 1h tick takes 600 ms to commit; b starts 300 ms after the tick and
    // reads the cursor before that commit. With catchUp: none, planning from the stale cursor
    // would record the tick skipped, and a's claim would then lose to the skip: nobody runs it.
    const clock = createTestClock();
    const shared = memoryStore();
    const slowClaims: Store = new Proxy(shared, {
      get(target, key) {
        const value: unknown = Reflect.get(target, key);
        if (key !== 'claim') return typeof value === 'function' ? value.bind(target) : value;
        return async (...args: Parameters<Store['claim']>) => {
          await clock.sleep(600);
          return target.claim(...args);
        };
      },
    });
    const def = { name: 'hourly', schedule: { every: '1h' }, catchUp: 'none' as const, handler: () => {} };
    const a = harness({ clock, store: slowClaims, instance: 'a' });
    a.scheduler.add(def);
    await a.scheduler.start();
    await clock.advance(H + 300);
    const b = harness({ clock, store: shared, instance: 'b' });
    b.scheduler.add(def);
    await b.scheduler.start();
    await clock.advance(H);
    const runs = await runsOf(b.scheduler, 'hourly');
    assert.deepEqual(runs.map((r) => [secs(r.scheduledFor)! / 3600, r.trigger, r.status]), [[0, 'schedule', 'succeeded'], [1, 'schedule', 'succeeded'], [2, 'schedule', 'succeeded']]);
    await Promise.all([a.scheduler.stop(), b.scheduler.stop()]);
  });

  it('keeps the cadence of an every task across a restart instead of resetting the timer', async () => {
    const clock = createTestClock();
    const store = memoryStore();
    const def = { name: 'daily', schedule: { every: '24h' }, catchUp: 'none' as const, handler: () => {} };
    const a = harness({ clock, store });
    a.scheduler.add(def);
    await a.scheduler.start();
    await clock.advance(10 * H);
    await a.scheduler.stop();
    await clock.advance(5 * H);
    const b = harness({ clock, store });
    b.scheduler.add(def);
    await b.scheduler.start();
    assert.equal(b.scheduler.task('daily')?.nextRunAt?.getTime(), T0 + 24 * H, 'next run stays at anchor + 24h, not restart + 24h');
    await clock.advance(10 * H);
    assert.deepEqual((await runsOf(b.scheduler, 'daily')).map((r) => secs(r.scheduledFor)! / 3600), [0, 24]);
    await b.scheduler.stop();
  });

  it('a changed schedule starts afresh: nothing of the old schedule is caught up', async () => {
    const clock = createTestClock();
    const store = memoryStore();
    const a = harness({ clock, store });
    a.scheduler.add({ name: 't', schedule: { every: '1h' }, handler: () => {} });
    await a.scheduler.start();
    await clock.advance(0);
    await a.scheduler.stop();
    await clock.advance(5 * H);
    const b = harness({ clock, store });
    b.scheduler.add({ name: 't', schedule: { every: '2h', initialDelay: '30m' }, handler: () => {} });
    await b.scheduler.start();
    await clock.advance(3 * H);
    const runs = await runsOf(b.scheduler, 't');
    assert.deepEqual(runs.map((r) => [secs(r.scheduledFor)! / 3600, r.trigger]), [[0, 'schedule'], [5.5, 'schedule'], [7.5, 'schedule']]);
    await b.scheduler.stop();
  });

  it('summarises a long outage: a bounded number of records account for every missed tick', async () => {
    const clock = createTestClock();
    const store = memoryStore();
    const def = { name: 'sec', schedule: { every: '1s' }, handler: () => {} };
    const a = harness({ clock, store });
    a.scheduler.add(def);
    await a.scheduler.start();
    await a.scheduler.stop();
    await clock.advance(24 * H);
    const b = harness({ clock, store });
    b.scheduler.add(def);
    await b.scheduler.start();
    await b.scheduler.onIdle();
    const runs = await runsOf(b.scheduler, 'sec');
    assert.ok(runs.length <= 103, `${runs.length} records`);
    const accounted = runs.reduce((n, r) => n + (r.status === 'skipped' ? r.skippedTicks : 1), 0);
    // Tick 0 was never claimed (the first scheduler stopped at once), so it is missed too; the
    // tick at the restart instant is live.
    assert.equal(accounted, 24 * 3600 + 1, 'every second of the outage, then the tick at restart');
    assert.equal(runs.at(-1)?.trigger, 'schedule');
    await b.scheduler.stop();
  });
});

/** `inner` with the `late` methods answering a second of virtual time late, and the `missing` ones absent. */
function answeringLate(inner: Store, clock: TestClock, late: readonly (keyof Store)[], missing: readonly (keyof Store)[] = []): Store {
  return new Proxy(inner, {
    get(target, key) {
      if ((missing as readonly PropertyKey[]).includes(key)) return undefined;
      const value: unknown = Reflect.get(target, key);
      if (typeof value !== 'function') return value;
      if (!(late as readonly PropertyKey[]).includes(key)) return value.bind(target);
      return async (...args: unknown[]) => {
        const result: unknown = await value.apply(target, args);
        await clock.sleep(1_000);
        return result;
      };
    },
  });
}

/**
 * A started scheduler whose store answers registrations a second late: with `registerTaskList`,
 * or without it (the engine then sends the array), and what its tasks' handlers push to `ran`.
 */
async function registeringLate(list: boolean): Promise<{ h: ReturnType<typeof harness>; inner: Store; clock: TestClock; ran: string[] }> {
  const clock = createTestClock();
  const inner = memoryStore();
  const h = harness({ clock, store: answeringLate(inner, clock, ['registerTasks', 'registerTaskList'], list ? [] : ['registerTaskList']) });
  await h.scheduler.start();
  return { h, inner, clock, ran: [] };
}

describe('commands', () => {
  for (const list of [true, false]) {
    it(`a task removed while the store registers it stays removed; one added again under its name runs alone (${list ? 'registerTaskList' : 'registerTasks'})`, async () => {
      const { h, clock, ran } = await registeringLate(list);
      h.scheduler.add({ name: 'gone', schedule: { every: '1m' }, handler: () => void ran.push('gone') });
      h.scheduler.add({ name: 'x', schedule: { every: '1m' }, handler: () => void ran.push('first') });
      // Removed in the turn it was added: its registration has not gone out yet.
      h.scheduler.add({ name: 'brief', schedule: { every: '1m' }, handler: () => void ran.push('brief') });
      h.scheduler.remove('brief');
      await clock.advance(10); // the registration of the others is on its way
      h.scheduler.remove('gone');
      h.scheduler.remove('x');
      h.scheduler.add({ name: 'x', schedule: { every: '1m', initialDelay: '30s' }, handler: () => void ran.push('second') });
      await clock.advance(3 * 60_000);
      assert.deepEqual(ran, ['second', 'second', 'second']);
      assert.deepEqual(h.scheduler.tasks().map((t) => t.name), ['x']);
      assert.deepEqual((await runsOf(h.scheduler)).map((r) => [r.task, secs(r.scheduledFor)]), [['x', 30.01], ['x', 90.01], ['x', 150.01]], 'anchored when registered, 10 ms in');
      assert.deepEqual(h.errors, []);
      await h.scheduler.stop();
    });
  }

  for (const list of [true, false]) {
    it(`a task changed while the store registers it is registered again as it is now: the instance and the store agree (${list ? 'registerTaskList' : 'registerTasks'})`, async () => {
      const { h, inner, clock, ran } = await registeringLate(list);
      h.scheduler.add({ name: 'to-pause', schedule: { every: '1m' }, handler: () => void ran.push('to-pause') });
      h.scheduler.add({ name: 'paused', paused: true, schedule: { every: '1m' }, handler: () => void ran.push('paused') });
      h.scheduler.add({ name: 'rekeyed', schedule: { every: '1m' }, handler: () => void ran.push('rekeyed') });
      await clock.advance(10); // the registration is on its way
      h.scheduler.update('to-pause', { paused: true });
      h.scheduler.update('paused', { paused: false });
      h.scheduler.update('rekeyed', { schedule: { every: '2m' } });
      await clock.advance(5 * 60_000);
      const stored = new Map((await inner.listTasks()).map((t) => [t.name, t]));
      for (const task of h.scheduler.tasks()) {
        assert.equal(task.paused, stored.get(task.name)?.paused, `${task.name}: paused here as in the store`);
        assert.equal(parseSchedule(task.schedule).key, stored.get(task.name)?.scheduleKey, `${task.name}: the schedule the store keeps`);
      }
      // What the store holds wins, as on a restart: a definition's paused flag counts for a new task.
      assert.deepEqual(
        h.scheduler.tasks().map((t) => [t.name, t.paused]).sort(),
        [['paused', true], ['rekeyed', false], ['to-pause', false]],
      );
      const rekeyed = (await runsOf(h.scheduler, 'rekeyed')).map((r) => r.scheduledFor.getTime());
      assert.ok(rekeyed.length >= 2);
      assert.deepEqual(rekeyed.slice(1).map((t, k) => t - (rekeyed[k] as number)), rekeyed.slice(1).map(() => 120_000), 'every 2 minutes');
      assert.equal(ran.filter((r) => r === 'paused').length, 0);
      assert.deepEqual(h.errors, []);
      await h.scheduler.stop();
    });
  }

  it('a poll answered after a local resume does not pause the task again with its older flag', async () => {
    const clock = createTestClock();
    const inner = memoryStore();
    // Polls read the store when sent and answer a second later.
    const slowPolls = answeringLate(inner, clock, ['poll']);
    const h = harness({ clock, store: slowPolls, pollInterval: '5s' });
    h.scheduler.add({ name: 't', schedule: { every: '1h' }, handler: () => {} });
    await h.scheduler.start();
    await clock.advance(2_000);
    await inner.setPaused('t', true, clock.now()); // another replica pauses: this one polls at once
    await clock.advance(100);
    await h.scheduler.resume('t'); // resumed here while that poll is on its way back
    await clock.advance(1_000); // that poll has answered; the next (asked by the resume) has not yet
    assert.equal(h.scheduler.task('t')?.paused, false);
    await clock.advance(10_000);
    assert.equal(h.scheduler.task('t')?.paused, false, 'and later polls agree');
    const stopping = h.scheduler.stop({ timeout: 0 });
    await clock.advance(2_000); // the poll in flight answers
    await stopping;
  });

  it('retry runs a finished run\'s tick again as its next attempt, linked to it, on whichever replica runs the task', async () => {
    const clock = createTestClock();
    const store = memoryStore();
    const keys: string[] = [];
    let fail = true;
    const def = { name: 'flaky', schedule: { at: new Date(T0 + 1_000) }, handler: (ctx: { idempotencyKey: string }) => {
      keys.push(ctx.idempotencyKey);
      if (fail) throw new Error('fails once');
      return 'fixed';
    } };
    const a = harness({ clock, store, instance: 'a' });
    a.scheduler.add(def);
    await a.scheduler.start();
    await clock.advance(2_000);
    const [failed] = await runsOf(a.scheduler, 'flaky');
    assert.equal(failed?.status, 'failed');
    await a.scheduler.stop();
    // Another replica takes the request: the first one is gone.
    const b = harness({ clock, store, instance: 'b' });
    b.scheduler.add(def);
    await b.scheduler.start();
    fail = false;
    const retryId = await b.scheduler.retry(failed!.id);
    await clock.advance(100);
    await b.scheduler.onIdle();
    const retried = await b.scheduler.getRun(retryId);
    assert.deepEqual(
      [retried?.status, retried?.trigger, retried?.attempt, retried?.causedBy, retried?.scheduledFor.getTime(), retried?.output],
      ['succeeded', 'retry', 2, failed!.id, T0 + 1_000, 'fixed'],
    );
    assert.deepEqual(keys, [keys[0], keys[0]], 'the same idempotency key as the tick it retries');
    await assert.rejects(b.scheduler.retry('no-such-run'), RunNotFoundError);
    b.scheduler.add({ name: 'long', schedule: { every: '1h' }, handler: () => clock.sleep(60_000) });
    await clock.advance(10);
    const [running] = await runsOf(b.scheduler, 'long');
    await assert.rejects(b.scheduler.retry(running!.id), (e: unknown) => (e as { code?: string }).code === 'ERR_RUN_NOT_FINISHED');
    await b.scheduler.stop({ timeout: 0 });
  });

  it('pause records ticks skipped (paused) on every instance; resume continues', async () => {
    const h = harness();
    h.scheduler.add({ name: 'p', schedule: { every: '1m' }, handler: () => {} });
    await h.scheduler.start();
    await h.clock.advance(60_000 + 1);
    await h.scheduler.pause('p');
    assert.equal(h.scheduler.task('p')?.paused, true);
    assert.equal(h.scheduler.task('p')?.nextRunAt, null);
    await h.clock.advance(2 * 60_000);
    await h.scheduler.resume('p');
    await h.clock.advance(60_000);
    const runs = await runsOf(h.scheduler, 'p');
    assert.deepEqual(runs.map((r) => [secs(r.scheduledFor), r.status, r.skipReason]), [
      [0, 'succeeded', null],
      [60, 'succeeded', null],
      [120, 'skipped', 'paused'],
      [180, 'skipped', 'paused'],
      [240, 'succeeded', null],
    ]);
    await h.scheduler.stop();
  });

  it('paused state is persisted: a restarted scheduler stays paused', async () => {
    const clock = createTestClock();
    const store = memoryStore();
    const def = { name: 'p', schedule: { every: '1m' }, handler: () => {} };
    const a = harness({ clock, store });
    a.scheduler.add(def);
    await a.scheduler.start();
    await a.scheduler.pause('p');
    await a.scheduler.stop();
    const b = harness({ clock, store });
    b.scheduler.add(def);
    await b.scheduler.start();
    assert.equal(b.scheduler.task('p')?.paused, true);
    await b.scheduler.stop();
  });

  it('a pause note reaches every replica within a poll and survives a restart; a bad note is refused and pauses nothing', async () => {
    const clock = createTestClock();
    const store = memoryStore();
    const def = { name: 'p', schedule: { every: '1m' }, handler: () => {} };
    const a = harness({ clock, store, instance: 'a', pollInterval: '1s' });
    const b = harness({ clock, store, instance: 'b', pollInterval: '1s' });
    const seenOnB: unknown[] = [];
    b.scheduler.on('task:paused', (e) => seenOnB.push(e));
    a.scheduler.add(def);
    b.scheduler.add(def);
    await a.scheduler.start();
    await b.scheduler.start();
    await clock.advance(10_000);
    const pausedAt = clock.now();
    await a.scheduler.pause('p', { note: '  migration until 18:00 (ops-1423)  ' });
    assert.deepEqual([a.scheduler.task('p')?.pauseNote, a.scheduler.task('p')?.pausedAt?.getTime()], ['migration until 18:00 (ops-1423)', pausedAt]);
    await clock.advance(1_500);
    assert.deepEqual([b.scheduler.task('p')?.paused, b.scheduler.task('p')?.pauseNote, b.scheduler.task('p')?.pausedAt?.getTime()], [true, 'migration until 18:00 (ops-1423)', pausedAt]);
    // A new note on the paused task: announced again, the time it was paused kept.
    await a.scheduler.pause('p', { note: 'extended to 20:00' });
    await clock.advance(1_500);
    assert.deepEqual(seenOnB, [
      { task: 'p', note: 'migration until 18:00 (ops-1423)' },
      { task: 'p', note: 'extended to 20:00' },
    ]);
    assert.equal(b.scheduler.task('p')?.pausedAt?.getTime(), pausedAt);
    // Bad notes name the field and store nothing.
    for (const [note, pattern] of [
      [42, /note: received 42; use a string/],
      ['x'.repeat(501), /note: received a string of 501 characters; shorten it to at most 500/],
      ['a\u0000b', /note: .*remove the NUL character/],
    ] as const) {
      await assert.rejects(a.scheduler.pause('p', { note: note as string }), (e: unknown) => e instanceof InvalidOptionError && pattern.test(e.message));
    }
    assert.equal(a.scheduler.task('p')?.pauseNote, 'extended to 20:00');
    await a.scheduler.stop();
    await b.scheduler.stop();
    const c = harness({ clock, store, instance: 'c' });
    c.scheduler.add(def);
    await c.scheduler.start();
    assert.deepEqual([c.scheduler.task('p')?.paused, c.scheduler.task('p')?.pauseNote, c.scheduler.task('p')?.pausedAt?.getTime()], [true, 'extended to 20:00', pausedAt]);
    await c.scheduler.resume('p');
    assert.deepEqual([c.scheduler.task('p')?.paused, c.scheduler.task('p')?.pauseNote, c.scheduler.task('p')?.pausedAt], [false, null, null]);
    await c.scheduler.stop();
  });

  it('trigger runs a task now as a manual run, even when paused', async () => {
    const h = harness();
    h.scheduler.add({ name: 'm', schedule: { every: '1h' }, paused: true, handler: (ctx) => ctx.trigger });
    await h.scheduler.start();
    await h.clock.advance(90_000);
    const id = await h.scheduler.trigger('m');
    await h.scheduler.onIdle();
    const run = await h.scheduler.getRun(id);
    assert.equal(run?.trigger, 'manual');
    assert.equal(run?.status, 'succeeded');
    assert.equal(run?.output, 'manual');
    assert.equal(secs(run?.scheduledFor ?? null), 90);
    await assert.rejects(h.scheduler.trigger('nope'), (e: unknown) => e instanceof TaskNotFoundError && /no task named "nope"; registered tasks: m/.test(e.message));
    await h.scheduler.stop();
  });

  it('cancel aborts a running run on its signal and records it cancelled', async () => {
    const h = harness();
    h.scheduler.add({ name: 'c', schedule: { at: new Date(T0) }, handler: work(h.clock, 60_000) });
    await h.scheduler.start();
    await h.clock.advance(1000);
    const [running] = await runsOf(h.scheduler, 'c');
    assert.equal(running?.status, 'running');
    assert.equal(await h.scheduler.cancel(running!.id), 'requested');
    await h.scheduler.onIdle();
    const run = await h.scheduler.getRun(running!.id);
    assert.equal(run?.status, 'cancelled');
    assert.equal(run?.durationMs, 1000);
    assert.equal(await h.scheduler.cancel(running!.id), 'not-running');
    await assert.rejects(h.scheduler.cancel('00000000-0000-7000-8000-000000000000'), RunNotFoundError);
    await h.scheduler.stop();
  });

  it('adds, updates and removes tasks while running', async () => {
    const h = harness();
    await h.scheduler.start();
    h.scheduler.add({ name: 'late-add', schedule: { every: '1m' }, handler: () => 'v1' });
    await h.clock.advance(60_000);
    h.scheduler.update('late-add', { handler: () => 'v2' });
    await h.clock.advance(60_000);
    // A new schedule starts afresh at the change (2 min): its first tick is that instant, whose
    // slot already ran, so the next run is at 12 min.
    h.scheduler.update('late-add', { schedule: { every: '10m' } });
    await h.clock.advance(60_000);
    assert.equal(h.scheduler.task('late-add')?.nextRunAt?.getTime(), T0 + 12 * 60_000);
    assert.equal(h.scheduler.remove('late-add'), true);
    assert.equal(h.scheduler.remove('late-add'), false);
    await h.clock.advance(60 * 60_000);
    const runs = await runsOf(h.scheduler, 'late-add');
    assert.deepEqual(runs.map((r) => [secs(r.scheduledFor), r.output]), [[0, 'v1'], [60, 'v1'], [120, 'v2']]);
    assert.deepEqual(h.scheduler.tasks(), []);
    await h.scheduler.stop();
  });
});

describe('stop', () => {
  it('aborts running handlers with reason shutdown, waits for them and reports', async () => {
    const h = harness();
    let reason: unknown;
    h.scheduler.add({
      name: 'polite',
      schedule: { at: new Date(T0) },
      handler: async (ctx) => {
        await h.clock.sleep(60_000, ctx.signal).catch((e: unknown) => { reason = e; });
        await h.clock.sleep(500); // cleanup after the abort
        return 'cleaned up';
      },
    });
    h.scheduler.add({ name: 'stubborn', schedule: { at: new Date(T0) }, handler: () => new Promise(() => {}) });
    await h.scheduler.start();
    await h.clock.advance(1000);
    const stopping = h.scheduler.stop({ timeout: '2s' });
    assert.equal(h.scheduler.stop(), stopping, 'stop() twice returns the same promise');
    await h.clock.advance(2000);
    const report = await stopping;
    assert.ok(reason instanceof ShutdownError);
    assert.deepEqual(report.finished.map((r) => [r.task, r.status, r.output]), [['polite', 'succeeded', 'cleaned up']]);
    assert.deepEqual(report.interrupted.map((r) => [r.task, r.status, r.error?.code]), [['stubborn', 'interrupted', 'ERR_SHUTDOWN']]);
    assert.equal(report.durationMs, 2000);
    assert.equal(h.clock.pendingTimers, 0, 'no timer left behind');
    assert.equal(h.scheduler.state, 'stopped');
    assert.throws(() => h.scheduler.add({ name: 'x', schedule: { every: '1m' }, handler: () => {} }), /add\(\) called on a stopped scheduler/);
    await assert.rejects(h.scheduler.start(), /start\(\) called on a stopped scheduler/);
  });

  it('is graceful: running runs finish first, are aborted only abortGrace before the deadline, and keep their leases', async () => {
    const clock = createTestClock();
    const store = memoryStore();
    // A short lease and a second replica that polls: if leases stopped being renewed while the
    // first drains, the second would reap its runs as interrupted.
    const a = harness({ clock, store, instance: 'a', lease: '3s', pollInterval: '1s' });
    const b = harness({ clock, store, instance: 'b', lease: '3s', pollInterval: '1s' });
    const abortedAt: Record<string, number> = {};
    const sleeper = (name: string, ms: number) => async (ctx: { signal: AbortSignal }) => {
      ctx.signal.addEventListener('abort', () => (abortedAt[name] = clock.now() - T0));
      await clock.sleep(ms, ctx.signal);
      return `${name} done`;
    };
    const once = { schedule: { at: new Date(T0 + 1_000) }, abortGrace: '2s' };
    a.scheduler.add({ ...once, name: 'quick', handler: sleeper('quick', 4_000) });
    a.scheduler.add({ ...once, name: 'long', handler: sleeper('long', 60_000) });
    a.scheduler.add({ ...once, name: 'stubborn', handler: (ctx) => new Promise(() => void ctx.signal.addEventListener('abort', () => (abortedAt.stubborn = clock.now() - T0))) });
    await a.scheduler.start();
    await b.scheduler.start();
    await clock.advance(2_000); // all three started at 1 s
    const stopping = a.scheduler.stop({ timeout: '10s' }); // at 2 s: deadline 12 s, aborts at 10 s
    await clock.advance(10_000);
    const report = await stopping;
    assert.deepEqual(abortedAt, { long: 10_000, stubborn: 10_000 }, 'nothing aborted before deadline − abortGrace; quick never');
    assert.deepEqual(report.finished.map((r) => [r.task, r.status, r.output]), [['quick', 'succeeded', 'quick done']]);
    assert.deepEqual(report.interrupted.map((r) => [r.task, r.error?.code, r.finishedAt?.getTime()]).sort(), [
      ['long', 'ERR_SHUTDOWN', T0 + 10_000],
      ['stubborn', 'ERR_SHUTDOWN', T0 + 12_000],
    ]);
    assert.equal(report.durationMs, 10_000);
    assert.deepEqual(b.finished, [], 'the other replica reaped nothing: leases were renewed while draining');
    await b.scheduler.stop();
  });

  it('stop() while start() still waits for the store: both resolve, the scheduler ends stopped, nothing left behind', async () => {
    for (const slow of ['open', 'storeTime'] as const) {
      const clock = createTestClock();
      const inner = memoryStore();
      let closed = 0;
      const store: Store = new Proxy(inner, {
        get(target, key) {
          if (key === 'storeTime') return async () => (slow === 'storeTime' ? clock.sleep(5_000).then(() => clock.now()) : clock.now());
          if (key === 'open' && slow === 'open') return async () => clock.sleep(5_000).then(() => target.open());
          if (key === 'close') return async () => (closed++, target.close());
          const value: unknown = Reflect.get(target, key);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      const h = harness({ clock, store, storeClock: true });
      h.scheduler.add({ name: 't', schedule: { every: '1s' }, handler: () => {} });
      const starting = h.scheduler.start();
      await clock.advance(100);
      const stopping = h.scheduler.stop({ timeout: '1s' });
      await clock.advance(20_000);
      await Promise.all([starting, stopping]);
      assert.equal(h.scheduler.state, 'stopped', slow);
      assert.deepEqual(h.started, [], `${slow}: nothing ran`);
      assert.equal(closed, 1, `${slow}: the store was closed`);
      assert.equal(clock.pendingTimers, 0, `${slow}: no timer left`);
    }
  });

  it('a start() that fails after opening the store closes it again', async () => {
    const inner = memoryStore();
    let closed = 0;
    const store: Store = new Proxy(inner, {
      get(target, key) {
        if (key === 'storeTime') return async () => Promise.reject(new Error('clock unreadable'));
        if (key === 'close') return async () => (closed++, target.close());
        const value: unknown = Reflect.get(target, key);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const h = harness({ store, storeClock: true });
    await assert.rejects(h.scheduler.start(), /clock unreadable/);
    assert.equal(closed, 1);
    assert.equal(h.scheduler.state, 'idle');
  });

  it('stopping a scheduler that never started is immediate', async () => {
    const h = harness();
    const report = await h.scheduler.stop();
    assert.deepEqual([report.finished, report.interrupted], [[], []]);
  });
});

describe('wall-clock jumps', () => {
  it('a forward jump treats the skipped span as missed and applies catchUp once', async () => {
    const h = harness();
    h.scheduler.add({ name: 'm', schedule: { every: '1m' }, handler: () => {} });
    await h.scheduler.start();
    await h.clock.advance(30_000);
    h.clock.jump(H); // NTP step or resume from suspend
    // The jump is noticed at the next wake (the tick due 30 s later in elapsed time, now at
    // wall 1h01m): all that is due by then fell in unobserved time, and catchUp: 'latest' runs
    // only the newest of it.
    await h.clock.advance(30_000);
    await h.clock.advance(60_000);
    const runs = await runsOf(h.scheduler, 'm');
    const ran = runs.filter((r) => r.status !== 'skipped');
    assert.deepEqual(ran.map((r) => [r.trigger, secs(r.scheduledFor)]), [['schedule', 0], ['catch-up', 3660], ['schedule', 3720]]);
    const skippedTicks = runs.filter((r) => r.status === 'skipped').reduce((n, r) => n + r.skippedTicks, 0);
    assert.equal(skippedTicks, 60, 'ticks 1..60 min are recorded missed');
    await h.scheduler.stop();
  });

  it('a backward jump never runs a tick twice', async () => {
    const h = harness();
    h.scheduler.add({ name: 'm', schedule: { every: '1m' }, handler: () => {} });
    await h.scheduler.start();
    await h.clock.advance(5 * 60_000 + 30_000);
    h.clock.jump(-3 * 60_000);
    await h.clock.advance(5 * 60_000);
    const slots = (await runsOf(h.scheduler, 'm')).map((r) => secs(r.scheduledFor));
    assert.deepEqual(slots, [0, 60, 120, 180, 240, 300, 360, 420]);
    assert.equal(new Set(slots).size, slots.length);
    await h.scheduler.stop();
  });
});

describe('history retention', () => {
  it('keeps at most maxPerTask finished runs per task, pruned by the scheduler itself', async () => {
    const h = harness({ history: { maxPerTask: 10 } });
    h.scheduler.add({ name: 'r', schedule: { every: '1m' }, handler: () => {} });
    await h.scheduler.start();
    await h.clock.advance(2 * H);
    const runs = await runsOf(h.scheduler, 'r');
    assert.ok(runs.length <= 70, `${runs.length}`);
    assert.equal(runs.at(-1)?.scheduledFor.getTime(), T0 + 2 * H, 'the newest are kept');
    await h.scheduler.stop();
  });
});

describe('pruning during a burst', () => {
  /** A memory store that notes when the scheduler prunes it. */
  function pruneWatched(clock: { now(): number }): { store: Store; prunedAt: number[] } {
    const store = memoryStore();
    const prunedAt: number[] = [];
    const proxy = new Proxy(store, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver);
        if (typeof value !== 'function') return value;
        if (key === 'prune') return (...args: unknown[]) => (prunedAt.push(clock.now() - T0), (value as (...a: unknown[]) => unknown).apply(target, args));
        return (...args: unknown[]) => (value as (...a: unknown[]) => unknown).apply(target, args);
      },
    });
    return { store: proxy, prunedAt };
  }

  /** `count` tasks due 50 s after start, each working `workMs`; the first prune is due at 60 s. */
  async function burstAtFirstPrune(count: number, workMs: number) {
    const clock = createTestClock({ start: T0 });
    const { store, prunedAt } = pruneWatched(clock);
    const h = harness({ clock, store });
    for (let i = 0; i < count; i++) h.scheduler.add({ name: `t${i}`, schedule: { at: new Date(T0 + 50_000) }, handler: work(clock, workMs) });
    await h.scheduler.start();
    return { h, clock, prunedAt };
  }

  it('waits while a burst keeps 1,000 runs outstanding, and prunes within 10 s of its end', async () => {
    const { h, clock, prunedAt } = await burstAtFirstPrune(1_000, 5 * 60_000);
    await clock.advance(5 * 60_000 + 40_000); // the runs end at 5 min 50 s
    assert.deepEqual(prunedAt, [], 'no pruning while the burst is outstanding');
    await clock.advance(20_000);
    assert.equal(prunedAt.length, 1);
    assert.ok(prunedAt[0]! >= 350_000 && prunedAt[0]! <= 360_000, `pruned at ${prunedAt[0]} ms`);
    await h.scheduler.stop();
  });

  it('prunes at once below a burst (999 runs), and after 10 minutes of waiting anyway', async () => {
    const small = await burstAtFirstPrune(999, 5 * 60_000);
    await small.clock.advance(61_000);
    assert.deepEqual(small.prunedAt, [60_000]);
    await small.h.scheduler.stop({ timeout: 0 });
    const long = await burstAtFirstPrune(1_000, 60 * 60_000);
    await long.clock.advance(20 * 60_000);
    assert.deepEqual(long.prunedAt, [60_000 + 600_000], 'the wait is bounded');
    await long.h.scheduler.stop({ timeout: 0 });
  });
});

describe('replicas sharing one store', () => {
  it('run each tick once between them', async () => {
    const clock = createTestClock();
    const store = memoryStore();
    const replicas = [0, 1, 2, 3].map((i) => harness({ clock, store, instance: `r${i}` }));
    for (const r of replicas) {
      r.scheduler.add({ name: 'shared', schedule: { every: '1m' }, jitter: '10s', handler: work(clock, 20_000) });
      await r.scheduler.start();
    }
    await clock.advance(60 * 60_000 + 10_000);
    const runs = await runsOf(replicas[0]!.scheduler, 'shared');
    const ticks = runs.map((r) => secs(r.scheduledFor));
    assert.equal(runs.length, 61);
    assert.equal(new Set(ticks).size, 61, 'no tick twice');
    assert.ok(runs.every((r) => r.status !== 'skipped'));
    assert.ok(new Set(runs.map((r) => r.instance)).size >= 1);
    for (const r of replicas) await r.scheduler.stop({ timeout: 0 });
  });

  it('a replica that dies mid-run: its run is marked interrupted after the lease and retried by another', async () => {
    const clock = createTestClock();
    const store = memoryStore();
    const { store: deadStore, kill } = killable(store);
    const a = harness({ clock, store: deadStore, instance: 'a', lease: '15s', pollInterval: '5s' });
    const b = harness({ clock, store, instance: 'b', lease: '15s', random: () => 0, pollInterval: '5s' });
    const def = (sched: typeof a) => ({ name: 'job', schedule: { at: new Date(T0 + 1000) }, retry: { attempts: 2 }, handler: work(sched.clock, 10 * 60_000) });
    a.scheduler.add(def(a));
    await a.scheduler.start();
    await clock.advance(2000);
    assert.equal((await runsOf(b.scheduler, 'job'))[0]?.instance, 'a');
    b.scheduler.add(def(b));
    await b.scheduler.start();
    kill(); // a stops renewing its lease and never writes again
    await clock.advance(30_000);
    const runs = await runsOf(b.scheduler, 'job');
    assert.deepEqual(runs.map((r) => [r.instance, r.attempt, r.trigger, r.status]), [['a', 1, 'schedule', 'interrupted'], ['b', 2, 'retry', 'running']]);
    assert.equal(runs[0]?.error?.code, 'ERR_LEASE_LOST');
    const interruptedAt = runs[0]!.finishedAt!.getTime();
    assert.ok(interruptedAt - (T0 + 1000) <= 15_000 + 5_000, 'found within the lease plus one poll interval');
    assert.ok(runs[1]!.startedAt!.getTime() - (T0 + 1000) <= 15_000 + 5_000, 'retried within the lease plus one poll');
    await b.scheduler.stop({ timeout: 0 });
  });
});

/** A store whose calls hang forever after kill(), as if its process died. */
function killable(store: Store): { store: Store; kill: () => void } {
  let dead = false;
  const proxy = new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => (dead ? new Promise(() => {}) : (value as (...a: unknown[]) => unknown).apply(target, args));
    },
  });
  return { store: proxy, kill: () => (dead = true) };
}
