import { cronSchedule } from '../src/engine/schedules/cron.ts';
import { planCatchUp } from '../src/engine/catch-up.ts';
import { NO_RETRY } from '../src/engine/retry.ts';
const policy = { timeoutMs: Infinity, abortGraceMs: 5000, retry: NO_RETRY, overlap: 'skip', maxConcurrent: 1, catchUp: 'latest', catchUpWindowMs: Infinity, catchUpLimit: 100, priority: 0, jitterMs: 0, staleAfterMs: null } as const;
for (const expr of ['* * 22-23 * 8 *', '0 0 29 2 *', '* * * * * *', '*/7 * * * *', '0 0 1 1 *', '59 23 31 12 5']) {
  const s = cronSchedule(expr, 'Europe/Berlin');
  const now = Date.UTC(2026, 11, 6);
  let t = performance.now();
  const p = s.previousBefore(now);
  const prevMs = performance.now() - t;
  t = performance.now();
  const plan = planCatchUp(s, now - 400 * 86_400_000, now, policy as never);
  const planMs = performance.now() - t;
  console.log(expr.padEnd(16), 'previousBefore', prevMs.toFixed(2), 'ms', p && new Date(p).toISOString(), '| plan 400 d', planMs.toFixed(1), 'ms', JSON.stringify(plan.skipped));
}
