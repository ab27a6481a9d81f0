import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type CatchUpPlan, planCatchUp } from '../../src/engine/catch-up.ts';
import { cronSchedule } from '../../src/engine/schedules/cron.ts';
import { EverySchedule } from '../../src/engine/schedules/every.ts';
import type { Schedule } from '../../src/engine/schedules/types.ts';
import type { TaskPolicy } from '../../src/engine/task-options.ts';
import { NO_RETRY } from '../../src/engine/retry.ts';
import { fraction, numRuns, rangeOf, scenario, seed, stepList, valid } from './cron-scenarios.ts';

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
  defer: null,
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

/** The plan as it was made before ticks were counted: back from the newest one previousBefore at a time, then forward one nextAfter at a time. */
function steppingPlan(schedule: Schedule, cursor: number, observedFrom: number, policy: TaskPolicy): CatchUpPlan {
  const firstMissed = schedule.nextAfter(cursor);
  if (firstMissed === null || firstMissed >= observedFrom) return { run: [], skipped: null };
  const newest = schedule.previousBefore(observedFrom);
  if (newest === null || newest <= cursor) return { run: [], skipped: null };
  const runLimit = policy.catchUp === 'none' ? 0 : policy.catchUp === 'latest' ? 1 : policy.catchUpLimit;
  const run: number[] = [];
  let tick: number | null = newest;
  while (tick !== null && tick > cursor && run.length < runLimit && tick >= observedFrom - policy.catchUpWindowMs) {
    run.push(tick);
    tick = schedule.previousBefore(tick);
  }
  run.reverse();
  if (tick === null || tick <= cursor) return { run, skipped: null };
  let count = 1;
  for (let t = schedule.nextAfter(firstMissed); t !== null && t <= tick; t = schedule.nextAfter(t)) count++;
  return { run, skipped: { first: firstMissed, last: tick, count } };
}

describe('planCatchUp for cron, counting instead of stepping', () => {
  it('plans what stepping plans: any expression, zone, DST option, outage and policy (fast-check)', () => {
    const policies = fc.record({
      catchUp: fc.constantFrom('latest' as const, 'all' as const, 'none' as const),
      // A window reaching back that many ticks from the return (or just short of the oldest of them), or none.
      window: fc.option(fc.record({ ticks: fc.integer({ min: 0, max: 25 }), shortOf: fc.boolean() }), { nil: undefined }),
      catchUpLimit: fc.constantFrom(1, 3, 20),
    });
    fc.assert(
      fc.property(scenario, policies, fraction, (s, p, late) => {
        const schedule = valid(s.expr, s.zone, s.gap, s.overlap);
        fc.pre(schedule !== null);
        const range = rangeOf(schedule, s);
        fc.pre(range !== null);
        const [first, last] = range;
        // Back somewhere after the last tick and before the next one.
        const next = schedule.nextAfter(last) ?? last + H;
        const [cursor, observedFrom] = [first - 1, last + 1 + Math.floor(late * (next - last - 1))];
        const ticks = stepList(schedule, first, last);
        const oldest = ticks[Math.max(0, ticks.length - 1 - (p.window?.ticks ?? 0))] as number;
        const catchUpWindowMs = p.window === undefined ? Infinity : observedFrom - oldest - (p.window.shortOf ? 1 : 0);
        const pol = policy({ catchUp: p.catchUp, catchUpWindowMs, catchUpLimit: p.catchUpLimit });
        assert.deepEqual(planCatchUp(schedule, cursor, observedFrom, pol), steppingPlan(schedule, cursor, observedFrom, pol));
      }),
      { seed, numRuns: Math.ceil(numRuns / 3) },
    );
  });

  it('plans a year of `* * * * * *` in Berlin, and 10,000 runs of it, in milliseconds', () => {
    const s = cronSchedule('* * * * * *', 'Europe/Berlin');
    const plan = planCatchUp(s, T0, T0 + 365 * 24 * H + 500, policy({ catchUp: 'all', catchUpLimit: 10_000 }));
    assert.equal(plan.run.length, 10_000);
    assert.equal(plan.run.at(-1), T0 + 365 * 24 * H);
    assert.equal(plan.run[0], T0 + 365 * 24 * H - 9_999_000);
    assert.deepEqual(plan.skipped, { first: T0 + 1000, last: T0 + 365 * 24 * H - 10_000_000, count: 365 * 86_400 - 10_000 });
    const start = performance.now();
    const latest = planCatchUp(s, T0 + 7000, T0 + 365 * 24 * H + 7500, policy({}));
    const elapsed = performance.now() - start;
    assert.deepEqual(latest, { run: [T0 + 365 * 24 * H + 7000], skipped: { first: T0 + 8000, last: T0 + 365 * 24 * H + 6000, count: 365 * 86_400 - 1 } });
    // 5 ms is the target (bench/schedules); the margin is for loaded CI machines.
    assert.ok(elapsed < 50, `took ${elapsed.toFixed(1)} ms`);
  });
});
