import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type CatchUpPolicy, memoryStore, type RunRecord } from '../../../src/index.ts';
import { createTestClock } from '../../../src/testing/index.ts';
import { harness, runsOf, T0 } from '../../helpers.ts';

const M = 60_000;

describe('downtime', () => {
  it('a 17-minute stop of a 5 s task is one skipped record and one event, not a hundred', async () => {
    const clock = createTestClock();
    const store = memoryStore();
    const def = { name: 'fast', schedule: { every: '5s' }, handler: () => {} };
    const first = harness({ clock, store });
    first.scheduler.add(def);
    await first.scheduler.start();
    await clock.advance(12_000); // ticks 0, 5, 10 s
    await first.scheduler.stop();
    await clock.advance(17 * M);
    const second = harness({ clock, store, instance: 'second' });
    second.scheduler.add(def);
    await second.scheduler.start();
    await second.scheduler.onIdle();
    await second.scheduler.stop();
    assert.equal(second.skipped.length, 1, 'one tick:skipped event');
    const skipped = (await runsOf(second.scheduler, 'fast')).filter((r) => r.status === 'skipped');
    assert.equal(skipped.length, 1, 'one skipped record');
    // Back at 17m12s: ticks 15 s … 17m10s missed; the newest runs (catchUp: latest), the rest are one record.
    assert.deepEqual([skipped[0]?.scheduledFor.getTime(), skipped[0]?.skippedTicks, skipped[0]?.skipReason], [T0 + 15_000, (17 * M + 5_000 - 15_000) / 5_000 + 1, 'missed']);
    assert.deepEqual(second.finished.map((r) => [r.trigger, r.scheduledFor.getTime()]), [['catch-up', T0 + 17 * M + 10_000]]);
  });

  it('replicas coming back together write the outage once', async () => {
    const clock = createTestClock();
    const store = memoryStore();
    const def = { name: 'fast', schedule: { every: '5s' }, catchUp: 'none' as const, handler: () => {} };
    const first = harness({ clock, store });
    first.scheduler.add(def);
    await first.scheduler.start();
    await clock.advance(1_000);
    await first.scheduler.stop();
    await clock.advance(10 * M);
    const replicas = ['a', 'b', 'c'].map((instance) => harness({ clock, store, instance }));
    for (const r of replicas) r.scheduler.add(def);
    await Promise.all(replicas.map((r) => r.scheduler.start()));
    await Promise.all(replicas.map((r) => r.scheduler.onIdle()));
    const skipped = (await runsOf(replicas[0]!.scheduler, 'fast')).filter((r) => r.status === 'skipped');
    await Promise.all(replicas.map((r) => r.scheduler.stop()));
    // Back at 10m1s: 5 s … 9m55s missed; the 10m tick, due less than a second before, runs live.
    assert.deepEqual(skipped.map((r) => r.skippedTicks), [(10 * M) / 5_000 - 1]);
  });

  it('replicas back from one outage at different instants (a rolling start) write one record for it', async () => {
    for (const apart of [5, 1_500, 2_300]) {
      const store = memoryStore();
      const first = harness({ clock: createTestClock(), store });
      const def = (ran: string[]) => ({ name: 'job', schedule: { every: '1s' }, handler: (ctx: { trigger: string; scheduledFor: Date }) => void ran.push(`${ctx.trigger}@${ctx.scheduledFor.getTime() - T0}`) });
      first.scheduler.add(def([]));
      await first.scheduler.start();
      await first.clock.advance(3_000);
      await first.scheduler.stop();
      const [ca, cb] = [createTestClock({ start: T0 + 100_000 }), createTestClock({ start: T0 + 100_000 + apart })];
      const ran: string[] = [];
      const a = harness({ clock: ca, store, instance: 'a' });
      const b = harness({ clock: cb, store, instance: 'b' });
      a.scheduler.add(def(ran));
      b.scheduler.add(def(ran));
      await Promise.all([a.scheduler.start(), b.scheduler.start()]);
      await Promise.all([ca.advance(200), cb.advance(200)]);
      await Promise.all([a.scheduler.onIdle(), b.scheduler.onIdle()]);
      const runs = (await runsOf(a.scheduler, 'job')).filter((r) => r.scheduledFor.getTime() > T0 + 3_000);
      await Promise.all([a.scheduler.stop({ timeout: 0 }), b.scheduler.stop({ timeout: 0 })]);
      const skipped = runs.filter((r) => r.status === 'skipped');
      assert.equal(skipped.length, 1, `${apart} ms apart: one record, not ${skipped.length}`);
      const covered = skipped.flatMap((r) => Array.from({ length: r.skippedTicks }, (_, k) => r.scheduledFor.getTime() + k * 1_000));
      const ranTicks = runs.filter((r) => r.status !== 'skipped').map((r) => r.scheduledFor.getTime());
      assert.deepEqual(covered.filter((t) => ranTicks.includes(t)), [], `${apart} ms apart: no tick both run and recorded missed`);
      assert.equal(new Set(ranTicks).size, ranTicks.length, 'no tick run twice');
    }
  });

  it('every tick of any cadence, outage and policy is accounted for exactly once (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 600 }).map((s) => s * 1000),
        fc.integer({ min: 0, max: 300 }),
        fc.constantFrom<CatchUpPolicy>('latest', 'all', 'none'),
        fc.integer({ min: 1, max: 5 }),
        async (interval, missed, catchUp, catchUpLimit) => {
          const clock = createTestClock();
          const store = memoryStore();
          const def = { name: 't', schedule: { every: interval }, catchUp, catchUpLimit, handler: () => {} };
          const first = harness({ clock, store });
          first.scheduler.add(def);
          await first.scheduler.start();
          await clock.advance(interval / 2); // tick 0 ran
          await first.scheduler.stop();
          await clock.advance(missed * interval + interval / 4);
          const second = harness({ clock, store, instance: 'second' });
          second.scheduler.add(def);
          await second.scheduler.start();
          await clock.advance(interval); // one more live tick
          await second.scheduler.onIdle();
          const runs = await runsOf(second.scheduler, 't');
          await second.scheduler.stop();
          const ticks = Math.floor((clock.now() - T0) / interval) + 1;
          const covered = runs.reduce((n: number, r: RunRecord) => n + (r.status === 'skipped' ? r.skippedTicks : 1), 0);
          assert.equal(covered, ticks, `every tick once: ${JSON.stringify(runs.map((r) => [r.status, r.skippedTicks]))}`);
          assert.ok(runs.filter((r) => r.status === 'skipped').length <= 1, 'at most one skipped record for the outage');
          const ranLate = runs.filter((r) => r.trigger === 'catch-up').length;
          assert.equal(ranLate, catchUp === 'none' ? 0 : Math.min(missed, catchUp === 'latest' ? 1 : catchUpLimit));
        },
      ),
      { numRuns: 60, seed: 17 },
    );
  });
});

describe('a one-off `at` instant already past when the task is registered', () => {
  const past = '2025-12-31T23:00:00Z'; // an hour before T0, when the scheduler starts

  for (const [catchUp, window, expected] of [
    ['latest', undefined, [['catch-up', 'succeeded', null]]],
    ['all', undefined, [['catch-up', 'succeeded', null]]],
    ['none', undefined, [['schedule', 'skipped', 'missed']]],
    ['latest', '30m', [['schedule', 'skipped', 'missed']]],
  ] as const) {
    it(`is a missed tick: catchUp ${catchUp}${window !== undefined ? ` with catchUpWindow ${window}` : ''} ${expected[0]?.[1] === 'skipped' ? 'records it skipped' : 'runs it once'}`, async () => {
      const h = harness();
      h.scheduler.add({ name: 'once', schedule: { at: past }, catchUp, ...(window !== undefined ? { catchUpWindow: window } : {}), handler: () => 'done' });
      await h.scheduler.start();
      await h.clock.advance(M);
      const runs = await runsOf(h.scheduler, 'once');
      await h.scheduler.stop();
      assert.deepEqual(runs.map((r) => [r.trigger, r.status, r.skipReason]), expected);
      assert.equal(runs[0]?.scheduledFor.toISOString(), new Date(past).toISOString());
    });
  }

  it('runs once across a restart, and when added to a running scheduler', async () => {
    const clock = createTestClock();
    const store = memoryStore();
    const def = { name: 'once', schedule: { at: past }, handler: () => {} };
    for (const instance of ['first', 'second']) {
      const h = harness({ clock, store, instance });
      h.scheduler.add(def);
      await h.scheduler.start();
      await clock.advance(M);
      await h.scheduler.stop();
    }
    const h = harness({ clock, store, instance: 'third' });
    await h.scheduler.start();
    h.scheduler.add({ ...def, name: 'added-later' });
    await clock.advance(M);
    assert.deepEqual((await runsOf(h.scheduler)).map((r) => [r.task, r.trigger, r.status]), [['once', 'catch-up', 'succeeded'], ['added-later', 'catch-up', 'succeeded']]);
    await h.scheduler.stop();
  });
});
