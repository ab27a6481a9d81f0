import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { OverlapPolicy, RunRecord, TaskDefinition } from '../../src/index.ts';
import { parseSchedule } from '../../src/index.ts';
import { jitterOffset } from '../../src/engine/schedules/jitter.ts';
import { harness, runsOf, T0 } from '../helpers.ts';

const CRONS = ['* * * * *', '*/5 * * * *', '*/20 * * * * *', '0 * * * *', '7,31 * * * *'];

const taskArb = fc.record({
  schedule: fc.oneof(
    fc.record({ every: fc.integer({ min: 5, max: 600 }).map((s) => s * 1000), initialDelay: fc.integer({ min: 0, max: 120_000 }) }),
    fc.record({ cron: fc.constantFrom(...CRONS) }),
  ),
  durations: fc.array(fc.integer({ min: 0, max: 400_000 }), { minLength: 1, maxLength: 5 }),
  failures: fc.array(fc.boolean(), { minLength: 1, maxLength: 5 }),
  overlap: fc.constantFrom<OverlapPolicy>('skip', 'queue', 'allow', 'replace'),
  attempts: fc.integer({ min: 1, max: 3 }),
  jitterFraction: fc.double({ min: 0, max: 0.9, noNaN: true }),
  timeoutSeconds: fc.option(fc.integer({ min: 1, max: 300 }), { nil: undefined }),
});

function expectedTicks(name: string, spec: { every: number; initialDelay: number } | { cron: string }, jitterMs: number, end: number): number[] {
  const schedule = parseSchedule(spec).bind(null, T0);
  const ticks: number[] = [];
  for (let t = schedule.nextAfter(T0 - 1); t !== null && t + jitterOffset(name, t, jitterMs) <= end; t = schedule.nextAfter(t)) ticks.push(t);
  return ticks;
}

describe('properties of the engine (fast-check, virtual time)', () => {
  it('every nominal tick runs once or is recorded skipped, also across a restart; nothing starts early; stop leaves no timer', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(taskArb, { minLength: 1, maxLength: 4 }), fc.array(fc.integer({ min: 0, max: 300_000 }), { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 6 }), async (tasks, steps, concurrency) => {
        const h = harness({ concurrency: concurrency === 6 ? Number.POSITIVE_INFINITY : concurrency, pollInterval: '1m' });
        const jitters = new Map<string, number>();
        const definitions = tasks.map((t, i): TaskDefinition => {
          const name = `task-${i}`;
          const interval = 'every' in t.schedule ? t.schedule.every : 60_000;
          const jitterMs = Math.floor(t.jitterFraction * Math.min(interval, 20_000));
          jitters.set(name, jitterMs);
          let calls = 0;
          return {
            name,
            schedule: t.schedule,
            overlap: t.overlap,
            jitter: jitterMs,
            retry: { attempts: t.attempts, backoff: '10s' },
            ...(t.timeoutSeconds !== undefined ? { timeout: t.timeoutSeconds * 1000, abortGrace: '2s' } : {}),
            handler: async (ctx) => {
              const n = calls++;
              await h.clock.sleep(t.durations[n % t.durations.length] ?? 0, ctx.signal);
              if (t.failures[n % t.failures.length] === true) throw new Error(`failure ${n}`);
              return n;
            },
          };
        });
        // The newest tick each task queued (overlap 'queue'): one stopping leaves it in the store's
        // queue for the next start (Store.finish takes no queued tick while stopping).
        const lastQueued = new Map<string, number>();
        const noteQueued = (e: { task: string; scheduledFor: Date }) => void lastQueued.set(e.task, e.scheduledFor.getTime());
        h.scheduler.on('tick:queued', noteQueued);
        for (const d of definitions) h.scheduler.add(d);
        await h.scheduler.start();
        for (const step of steps) await h.clock.advance(step);
        const end = h.clock.now();
        const stopping = h.scheduler.stop({ timeout: '5s' });
        await h.clock.advance(5_000);
        await stopping;
        assert.equal(h.clock.pendingTimers, 0, 'stop() left a timer behind');

        // Restart on the same store: ticks left waiting at shutdown (for a slot, in a queue) are
        // picked up or recorded now; with catchUp 'none' every one of them gets a record.
        const again = harness({ clock: h.clock, store: h.store, pollInterval: '1m' });
        for (const d of definitions) again.scheduler.add({ ...d, catchUp: 'none' });
        again.scheduler.on('tick:queued', noteQueued);
        await again.scheduler.start();
        await h.clock.advance(0);
        const stopAgain = again.scheduler.stop({ timeout: '5s' });
        await h.clock.advance(5_000);
        await stopAgain;
        assert.equal(h.clock.pendingTimers, 0, 'the second stop() left a timer behind');

        const runs = await runsOf(again.scheduler);
        const seen = new Map<string, RunRecord>();
        const summarised = new Set<string>();
        for (const run of runs) {
          if (run.skippedTicks > 1) {
            // One record for many missed ticks: expand it into the ticks it stands for.
            const schedule = parseSchedule(definitions[Number(run.task.slice(5))]!.schedule).bind(null, T0);
            let tick: number | null = run.scheduledFor.getTime();
            for (let i = 1; i < run.skippedTicks && tick !== null; i++) {
              tick = schedule.nextAfter(tick);
              summarised.add(`${run.task}@${tick}#1`);
            }
          }
          const key = `${run.task}@${run.scheduledFor.getTime()}#${run.attempt}`;
          assert.ok(!seen.has(key), `duplicate record for ${key}`);
          seen.set(key, run);
          if (run.startedAt !== null) assert.ok(run.startedAt.getTime() >= run.dueAt.getTime(), `${key} started before it was due`);
          if (run.status === 'skipped') assert.notEqual(run.skipReason, null, `${key} skipped without a reason`);
          assert.notEqual(run.status, 'running', `${key} still running after stop`);
        }
        tasks.forEach((t, i) => {
          const name = `task-${i}`;
          for (const tick of expectedTicks(name, t.schedule, jitters.get(name) ?? 0, end)) {
            const key = `${name}@${tick}`;
            const waitsInQueue = lastQueued.get(name) === tick;
            assert.ok(seen.has(`${key}#1`) || summarised.has(`${key}#1`) || waitsInQueue, `tick ${key} (${new Date(tick).toISOString()}) was neither run nor recorded`);
          }
        });
      }),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 40), ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED), path: process.env.FC_PATH ?? '', endOnFailure: true } : {}) },
    );
  });
});
