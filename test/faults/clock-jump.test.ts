/**
 * The wall clock stepped an hour forward and an hour back under a running scheduler (a fake
 * clock source in-process; elapsed time and timers run on), with state in a real SQLite file:
 * no tick runs twice, and what a forward step skips is exactly what the task's catchUp says.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type CatchUpPolicy, type RunRecord, sqliteStore } from '../../src/index.ts';
import { harness, runsOf, secs } from '../helpers.ts';

const M = 60_000;
const H = 60 * M;
const dir = mkdtempSync(join(tmpdir(), 'caretaker-clock-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const minute = (r: RunRecord) => (secs(r.scheduledFor) as number) / 60;

/** Ticks a run record accounts for: one if it ran, its skippedTicks if it records skipped ones. */
const accounted = (runs: readonly RunRecord[]) => runs.reduce((n, r) => n + (r.status === 'skipped' ? r.skippedTicks : 1), 0);

describe('wall clock stepped ±1 h, on SQLite', () => {
  const expected: Record<CatchUpPolicy, (jumped: number[]) => number[]> = {
    latest: (jumped) => [jumped.at(-1) as number],
    all: (jumped) => jumped,
    none: () => [],
  };
  for (const catchUp of ['latest', 'all', 'none'] as const) {
    it(`forward 1 h, catchUp ${catchUp}: the stepped-over ticks run as the policy says, once`, async () => {
      const h = harness({ store: sqliteStore({ path: join(dir, `forward-${catchUp}.db`) }) });
      h.scheduler.add({ name: 'm', schedule: { every: '1m' }, catchUp, handler: () => {} });
      await h.scheduler.start();
      await h.clock.advance(10 * M + 30_000); // ticks 0..10 min ran
      h.clock.jump(H); // wall 1:10:30 while elapsed time says 0:10:30
      await h.clock.advance(5 * M); // the step is noticed at the next wake
      const runs = await runsOf(h.scheduler, 'm');
      await h.scheduler.stop();
      const ran = runs.filter((r) => r.status !== 'skipped');
      const slots = ran.map(minute);
      assert.equal(new Set(slots).size, slots.length, `a tick ran twice: ${slots}`);
      // Ticks 11..70 min were stepped over (the step was noticed at wall 1:11:00 = elapsed 0:11:00).
      const jumped = Array.from({ length: 60 }, (_, i) => 11 + i);
      const caughtUp = ran.filter((r) => r.trigger === 'catch-up').map(minute);
      assert.deepEqual(caughtUp, expected[catchUp](jumped));
      const live = ran.filter((r) => r.trigger === 'schedule').map(minute);
      assert.deepEqual(live, [...Array.from({ length: 11 }, (_, i) => i), 71, 72, 73, 74, 75]);
      // Nothing is lost silently: every tick from 0 to 75 min is run or recorded skipped.
      assert.equal(accounted(runs), 76, JSON.stringify(runs.map((r) => [minute(r), r.status, r.skippedTicks])));
    });
  }

  it('back 1 h: no tick runs twice; the schedule resumes after the last tick it ran', async () => {
    const h = harness({ store: sqliteStore({ path: join(dir, 'back.db') }) });
    const started: number[] = [];
    h.scheduler.add({ name: 'm', schedule: { every: '1m' }, handler: () => void started.push(h.clock.now()) });
    h.scheduler.add({ name: 'c', schedule: { cron: '*/15 * * * *' }, handler: () => {} });
    await h.scheduler.start();
    await h.clock.advance(90 * M + 30_000); // ticks 0..90 min ran
    const startsBeforeStep = started.length;
    h.clock.jump(-H); // wall 0:30:30 again
    await h.clock.advance(65 * M); // wall reaches 1:35:30
    const ran = async (task: string) => (await runsOf(h.scheduler, task)).filter((r) => r.status !== 'skipped').map(minute);
    const m = await ran('m');
    const c = await ran('c');
    await h.scheduler.stop();
    for (const slots of [m, c]) {
      assert.equal(new Set(slots).size, slots.length, `a tick ran twice: ${slots}`);
      assert.deepEqual(slots, [...slots].sort((a, b) => a - b), `ticks ran out of order: ${slots}`);
    }
    assert.deepEqual(m, Array.from({ length: 96 }, (_, i) => i), 'every minute 0..95 ran once');
    assert.deepEqual(c, [0, 15, 30, 45, 60, 75, 90]);
    // While the wall clock re-lived 0:30..1:30, nothing ran; then 1:31..1:35 did.
    const T0 = Date.parse('2026-01-01T00:00:00Z');
    assert.deepEqual(started.slice(startsBeforeStep).map((t) => (t - T0) / M), [91, 92, 93, 94, 95]);
  });
});
