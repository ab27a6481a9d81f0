import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_INDIVIDUAL_SKIPS, planCatchUp } from '../../src/engine/catch-up.ts';
import { cronSchedule } from '../../src/engine/schedules/cron.ts';
import { EverySchedule } from '../../src/engine/schedules/every.ts';
import type { TaskPolicy } from '../../src/engine/task-options.ts';
import { NO_RETRY } from '../../src/engine/retry.ts';

const H = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);
const policy = (p: Partial<TaskPolicy>): TaskPolicy => ({
  timeoutMs: Infinity,
  abortGraceMs: 5000,
  retry: NO_RETRY,
  overlap: 'skip',
  maxConcurrent: 1,
  catchUp: 'latest',
  catchUpWindowMs: Infinity,
  catchUpLimit: 100,
  priority: 0,
  jitterMs: 0,
  staleAfterMs: null,
  ...p,
});

describe('planCatchUp', () => {
  const hourly = new EverySchedule(H, T0);
  // Last handled tick T0, back at T0 + 3.5h: ticks at +1h, +2h, +3h were missed.
  const cursor = T0;
  const back = T0 + 3.5 * H;

  it('latest runs the newest missed tick and skips the others', () => {
    assert.deepEqual(planCatchUp(hourly, cursor, back, policy({})), { run: [T0 + 3 * H], skip: [T0 + H, T0 + 2 * H], summary: null });
  });

  it('all runs each missed tick, oldest first', () => {
    assert.deepEqual(planCatchUp(hourly, cursor, back, policy({ catchUp: 'all' })), { run: [T0 + H, T0 + 2 * H, T0 + 3 * H], skip: [], summary: null });
  });

  it('none skips them all', () => {
    assert.deepEqual(planCatchUp(hourly, cursor, back, policy({ catchUp: 'none' })), { run: [], skip: [T0 + H, T0 + 2 * H, T0 + 3 * H], summary: null });
  });

  it('catchUpWindow leaves older ticks skipped', () => {
    assert.deepEqual(planCatchUp(hourly, cursor, back, policy({ catchUpWindowMs: 0.25 * H })), { run: [], skip: [T0 + H, T0 + 2 * H, T0 + 3 * H], summary: null });
    assert.deepEqual(planCatchUp(hourly, cursor, back, policy({ catchUp: 'all', catchUpWindowMs: 2 * H })), { run: [T0 + 2 * H, T0 + 3 * H], skip: [T0 + H], summary: null });
  });

  it('catchUpLimit bounds all', () => {
    assert.deepEqual(planCatchUp(hourly, cursor, back, policy({ catchUp: 'all', catchUpLimit: 2 })), { run: [T0 + 2 * H, T0 + 3 * H], skip: [T0 + H], summary: null });
  });

  it('nothing missed, nothing planned (a tick exactly at the return instant is not missed)', () => {
    assert.deepEqual(planCatchUp(hourly, T0 + 3 * H, back, policy({})), { run: [], skip: [], summary: null });
    assert.deepEqual(planCatchUp(hourly, T0 + 2 * H, T0 + 3 * H, policy({})), { run: [], skip: [], summary: null });
  });

  it('summarises long downtime in one record after the newest individual skips', () => {
    const perSecond = new EverySchedule(1000, T0);
    const plan = planCatchUp(perSecond, T0, T0 + 24 * H, policy({}));
    assert.equal(plan.run.length, 1);
    assert.equal(plan.skip.length, MAX_INDIVIDUAL_SKIPS);
    assert.equal(plan.summary?.first, T0 + 1000);
    const total = plan.run.length + plan.skip.length + (plan.summary?.count ?? 0);
    assert.equal(total, 24 * 3600 - 1, 'every missed tick is accounted for');
    const cron = planCatchUp(cronSchedule('* * * * *', 'UTC'), T0, T0 + 24 * H, policy({ catchUp: 'none' }));
    assert.equal(cron.skip.length + (cron.summary?.count ?? 0), 24 * 60 - 1);
  });
});
