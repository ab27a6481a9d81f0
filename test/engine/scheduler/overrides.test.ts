import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { InvalidOptionError, memoryStore, type ScheduleSpec, sqliteStore } from '../../../src/index.ts';
import { createTestClock } from '../../../src/testing/index.ts';
import { type Harness, harness, runsOf, secs } from '../../helpers.ts';

/** Two replicas on one SQLite file and one virtual clock, each running `task` on `schedule`, started. */
async function twoReplicas(task: string, schedule: ScheduleSpec) {
  const dir = mkdtempSync(join(tmpdir(), 'caretaker-overrides-'));
  const clock = createTestClock({ start: '2026-01-01T00:00:00Z' });
  const path = join(dir, 'state.db');
  const [a, b] = ['a', 'b'].map((instance) => harness({ clock, store: sqliteStore({ path }), instance, pollInterval: '5s' })) as [Harness, Harness];
  for (const h of [a, b]) h.scheduler.add({ name: task, schedule, handler: () => {} });
  await a.scheduler.start();
  await b.scheduler.start();
  return { clock, path, a, b, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

describe('run-time overrides (virtual time)', () => {
  it('a schedule override moves the next instants at once and re-anchors; fields it does not set follow update()', async () => {
    const h = harness();
    h.scheduler.add({ name: 'vacuum', schedule: { every: '1h' }, timeout: '10m', priority: 1, handler: () => {} });
    await h.scheduler.start();
    await h.clock.advance(30 * 60_000);
    const info = await h.scheduler.override('vacuum', { schedule: { every: '10m' }, timeout: '2m' }, { by: 'ops' });
    assert.deepEqual(info.schedule, { every: '10m' });
    assert.equal(info.timeoutMs, 120_000);
    assert.deepEqual(info.overrides?.fields, { schedule: { every: '10m' }, timeout: '2m' });
    assert.equal(info.overrides?.by, 'ops');
    await h.clock.advance(0);
    // Re-anchored at the change (30 min), as a changed definition is: its first tick is then.
    assert.deepEqual(h.scheduler.upcoming('vacuum', 3).map((d) => secs(d)), [2400, 3000, 3600]);
    // The definition changes underneath: what is not overridden follows it; the override stays.
    const updated = h.scheduler.update('vacuum', { priority: 5, timeout: '20m' });
    assert.deepEqual([updated.priority, updated.timeoutMs, updated.schedule], [5, 120_000, { every: '10m' }]);
    await h.clock.advance(20 * 60_000);
    assert.deepEqual((await runsOf(h.scheduler, 'vacuum')).map((r) => secs(r.scheduledFor)), [0, 1800, 2400, 3000]);
    // Cleared: the definition applies again (the update's timeout, the hourly schedule, re-anchored).
    const cleared = await h.scheduler.clearOverrides('vacuum');
    assert.deepEqual([cleared.schedule, cleared.timeoutMs, cleared.overrides], [{ every: '1h' }, 1_200_000, null]);
    await h.scheduler.stop();
  });

  it('refuses a bad override naming the field, and stores and changes nothing', async () => {
    const h = harness();
    h.scheduler.add({ name: 't', schedule: { every: '1h' }, handler: () => {} });
    await h.scheduler.start();
    const refused = async (patch: unknown, pattern: RegExp) => {
      await assert.rejects(h.scheduler.override('t', patch as never), (e: unknown) => e instanceof InvalidOptionError && pattern.test(e.message));
    };
    await refused({ schedule: { cron: '61 * * * *' } }, /schedule\.cron/);
    await refused({ timout: '5m' }, /timout: .*cannot be changed at run time/);
    await refused({ handler: 'x' }, /handler: .*cannot be changed at run time/);
    await refused({ retry: { attempts: 3, retryOn: 'x' } }, /retry\.retryOn/);
    await refused({ jitter: '2h' }, /jitter: .*shorter than the interval/);
    await refused({ overlap: 'sometimes' }, /overlap/);
    await refused('every 5m', /send an object/);
    await refused({}, /send at least one of/);
    await refused({ timeout: Number.NaN }, /timeout: .*finite number/);
    await refused({ priority: Number.POSITIVE_INFINITY }, /priority: .*finite number/);
    assert.deepEqual(await h.store.listOverrides(), []);
    assert.equal(h.scheduler.task('t')?.overrides, null);
    await assert.rejects(h.scheduler.override('nope', { timeout: '1m' }), /no task named "nope"/);
    await h.scheduler.stop();
  });

  it('reaches another replica within a poll, and survives a restart with its anchor', async () => {
    const { clock, path, a, b, cleanup } = await twoReplicas('report', { cron: '0 * * * *' });
    try {
      await clock.advance(10 * 60_000);
      await a.scheduler.override('report', { schedule: { cron: '*/15 * * * *' } }, { by: 'ops' });
      await clock.advance(6_000);
      assert.deepEqual(b.scheduler.task('report')?.schedule, { cron: '*/15 * * * *', timezone: 'UTC' }, 'seen by the other replica');
      assert.equal(b.scheduler.task('report')?.overrides?.by, 'ops');
      await clock.advance(50 * 60_000 - 4_000);
      const runs = await runsOf(a.scheduler, 'report');
      assert.deepEqual(runs.map((r) => secs(r.scheduledFor)), [0, 900, 1800, 2700, 3600], 'each tick once across both');
      await a.scheduler.stop();
      await b.scheduler.stop();
      // A restart reads the override before registering: the schedule it stored stays, no tick lost or doubled.
      const again = harness({ clock, store: sqliteStore({ path }), instance: 'c' });
      again.scheduler.add({ name: 'report', schedule: { cron: '0 * * * *' }, handler: () => {} });
      await again.scheduler.start();
      assert.deepEqual(again.scheduler.task('report')?.schedule, { cron: '*/15 * * * *', timezone: 'UTC' });
      await clock.advance(16 * 60_000);
      assert.deepEqual((await runsOf(again.scheduler, 'report')).map((r) => secs(r.scheduledFor)), [0, 900, 1800, 2700, 3600, 4500]);
      await again.scheduler.stop();
    } finally {
      cleanup();
    }
  });

  it('an override the definition no longer takes is reported and left unapplied', async () => {
    const store = memoryStore();
    const h = harness({ store });
    h.scheduler.add({ name: 't', schedule: { every: '1h' }, handler: () => {} });
    await h.scheduler.start();
    await h.scheduler.override('t', { jitter: '30m' });
    await h.scheduler.stop();
    const next = harness({ store, clock: h.clock });
    // The new definition runs every 10 minutes: a 30-minute jitter no longer fits.
    next.scheduler.add({ name: 't', schedule: { every: '10m' }, handler: () => {} });
    await next.scheduler.start();
    assert.deepEqual(next.scheduler.task('t')?.settings.jitterMs, 0);
    assert.match(String(next.errors[0]), /jitter/);
    await next.scheduler.stop();
  });

  it('changes made at once from two places both stay (each over the one stored before it), on one instance and across two (hostile review)', async () => {
    const { clock, a, b, cleanup } = await twoReplicas('t', { every: '1h' });
    try {
      await Promise.all([a.scheduler.override('t', { timeout: '1m' }, { by: 'alice' }), a.scheduler.override('t', { priority: 5 }, { by: 'bob' })]);
      await Promise.all([a.scheduler.override('t', { jitter: '1s' }, { by: 'carol' }), b.scheduler.override('t', { catchUp: 'none' }, { by: 'dave' })]);
      await clock.advance(6_000);
      for (const h of [a, b]) {
        assert.deepEqual(Object.keys(h.scheduler.task('t')?.overrides?.fields ?? {}).sort(), ['catchUp', 'jitter', 'priority', 'timeout'], h.scheduler.instance);
        assert.deepEqual([h.scheduler.task('t')?.timeoutMs, h.scheduler.task('t')?.priority, h.scheduler.task('t')?.settings.catchUp], [60_000, 5, 'none']);
      }
      await a.scheduler.stop();
      await b.scheduler.stop();
    } finally {
      cleanup();
    }
  });

  it('an older answer never replaces a newer change: versions decide, not arrival (hostile review)', async () => {
    const store = memoryStore();
    let hold: (() => void) | null = null;
    // Instance a's writes are answered late, once asked to.
    const slow: typeof store = new Proxy(store, {
      get: (target, key) => {
        const value: unknown = Reflect.get(target, key);
        if (key === 'setOverrides' && hold === null) {
          return async (...args: unknown[]) => {
            const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            await new Promise<void>((resolve) => (hold = resolve));
            return result;
          };
        }
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const a = harness({ store: slow, instance: 'a', pollInterval: '1s' });
    const b = harness({ store, clock: a.clock, instance: 'b', pollInterval: '1s' });
    for (const h of [a, b]) h.scheduler.add({ name: 't', schedule: { every: '1h' }, handler: () => {} });
    await a.scheduler.start();
    await b.scheduler.start();
    const alice = a.scheduler.override('t', { timeout: '10m' }, { by: 'alice' });
    await a.clock.advance(0);
    // Bob changes it after Alice's write (over it), and a learns of it by its poll before Alice's answer arrives.
    await b.scheduler.override('t', { timeout: '30m' }, { by: 'bob' });
    await a.clock.advance(2_000);
    assert.equal(a.scheduler.task('t')?.timeoutMs, 1_800_000);
    (hold as (() => void) | null)?.();
    await alice;
    assert.equal(a.scheduler.task('t')?.timeoutMs, 1_800_000, 'the late answer did not undo the newer change');
    assert.equal(a.scheduler.task('t')?.overrides?.by, 'bob');
    await a.scheduler.stop();
    await b.scheduler.stop();
  });

  it('update() and reloads go on when an override no longer fits: it is kept, shown unapplied, reported (hostile review)', async () => {
    const h = harness();
    h.scheduler.add({ name: 't', schedule: { every: '1h' }, overlap: 'allow', maxConcurrent: 2, handler: () => {} });
    await h.scheduler.start();
    // overlap other than allow drops the definition's maxConcurrent (it would be refused with it).
    assert.equal((await h.scheduler.override('t', { overlap: 'skip', jitter: '30m' })).overlap, 'skip');
    const info = h.scheduler.update('t', { schedule: { every: '10m' } });
    assert.deepEqual([info.schedule, info.settings.jitterMs, info.overlap], [{ every: '10m' }, 0, 'allow']);
    assert.equal(info.overrides?.applied, false);
    assert.match(info.overrides?.problem ?? '', /run-time change \(overlap, jitter\) no longer fits the definition: .*jitter/);
    assert.match(String(h.errors.at(-1)), /reset it/);
    // Fixed at run time: dropping the jitter makes the rest apply again.
    const fixed = await h.scheduler.override('t', { jitter: null });
    assert.deepEqual([fixed.overrides?.applied, fixed.overlap], [true, 'skip']);
    await h.scheduler.stop();
    await assert.rejects(h.scheduler.override('t', { timeout: '1m' }), /needs a started scheduler/);
  });
});
