import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planCatchUp } from '../../src/engine/catch-up.ts';
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
    assert.deepEqual(planCatchUp(hourly, cursor, back, policy({})), { run: [T0 + 3 * H], skipped: { first: T0 + H, last: T0 + 2 * H, count: 2 } });
  });

  it('all runs each missed tick, oldest first', () => {
    assert.deepEqual(planCatchUp(hourly, cursor, back, policy({ catchUp: 'all' })), { run: [T0 + H, T0 + 2 * H, T0 + 3 * H], skipped: null });
  });

  it('none skips them all', () => {
    assert.deepEqual(planCatchUp(hourly, cursor, back, policy({ catchUp: 'none' })), { run: [], skipped: { first: T0 + H, last: T0 + 3 * H, count: 3 } });
  });

  it('catchUpWindow leaves older ticks skipped', () => {
    assert.deepEqual(planCatchUp(hourly, cursor, back, policy({ catchUpWindowMs: 0.25 * H })), { run: [], skipped: { first: T0 + H, last: T0 + 3 * H, count: 3 } });
    assert.deepEqual(planCatchUp(hourly, cursor, back, policy({ catchUp: 'all', catchUpWindowMs: 2 * H })), { run: [T0 + 2 * H, T0 + 3 * H], skipped: { first: T0 + H, last: T0 + H, count: 1 } });
  });

  it('catchUpLimit bounds all', () => {
    assert.deepEqual(planCatchUp(hourly, cursor, back, policy({ catchUp: 'all', catchUpLimit: 2 })), { run: [T0 + 2 * H, T0 + 3 * H], skipped: { first: T0 + H, last: T0 + H, count: 1 } });
  });

  it('nothing missed, nothing planned (a tick exactly at the return instant is not missed)', () => {
    assert.deepEqual(planCatchUp(hourly, T0 + 3 * H, back, policy({})), { run: [], skipped: null });
    assert.deepEqual(planCatchUp(hourly, T0 + 2 * H, T0 + 3 * H, policy({})), { run: [], skipped: null });
  });

  it('records long downtime as one skipped range, every missed tick accounted for', () => {
    const perSecond = new EverySchedule(1000, T0);
    const plan = planCatchUp(perSecond, T0, T0 + 24 * H, policy({}));
    assert.deepEqual(plan.run, [T0 + 24 * H - 1000]);
    assert.deepEqual(plan.skipped, { first: T0 + 1000, last: T0 + 24 * H - 2000, count: 24 * 3600 - 2 });
    const cron = planCatchUp(cronSchedule('* * * * *', 'UTC'), T0, T0 + 24 * H, policy({ catchUp: 'none' }));
    assert.deepEqual(cron, { run: [], skipped: { first: T0 + 60_000, last: T0 + 24 * H - 60_000, count: 24 * 60 - 1 } });
  });
});
