/**
 * The release of an instant's handlers as a property (decision 036), on the memory and SQLite
 * stores: for any set of tasks due together, with any synchronous work, progress reported at
 * once, and timeouts, every handler starts once, in order, with nothing of another run's
 * bookkeeping between the starts; each run's events come in order; and a timeout counts from its
 * own handler's start. Virtual time, with a clock that offers turns so claims go ahead of the
 * instant as on the system clock. (PostgreSQL judges time by its own clock, which a virtual clock
 * cannot drive; the release itself is the same code for every store.)
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createScheduler, memoryStore, sqliteStore, type Store } from '../../src/index.ts';
import { createTestClock } from '../../src/testing/index.ts';
import { realTurns, turningClock } from '../helpers.ts';

interface Spec {
  readonly blockMs: number;
  readonly timeoutMs: number | null;
  readonly progress: boolean;
}

const specs = fc.array(fc.record({ blockMs: fc.integer({ min: 0, max: 40 }), timeoutMs: fc.option(fc.integer({ min: 20, max: 400 }), { nil: null }), progress: fc.boolean() }), { minLength: 1, maxLength: 30 });

const backends: { name: string; open(): { store: Store; close(): void } }[] = [
  { name: 'memory', open: () => ({ store: memoryStore(), close: () => {} }) },
  {
    name: 'SQLite',
    open: () => {
      const dir = mkdtempSync(join(tmpdir(), 'caretaker-release-'));
      return { store: sqliteStore({ path: join(dir, 'caretaker.db') }), close: () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
];

for (const backend of backends) {
  describe(`a release of many handlers, any work and timeouts (fast-check, ${backend.name})`, () => {
    it('starts each once, back to back, keeps each run’s events in order, and times each out from its own start', async () => {
      await fc.assert(
        fc.asyncProperty(specs, async (tasks: Spec[]) => {
          const { store, close } = backend.open();
          const clock = createTestClock({ start: '2026-01-01T00:00:30.000Z' });
          const scheduler = createScheduler({ clock: turningClock(clock), store, instance: 'solo' });
          const log: string[] = [];
          const startedAt = new Map<string, number>();
          tasks.forEach((spec, i) => {
            scheduler.add({
              name: `t${i}`,
              schedule: { cron: '* * * * *' },
              ...(spec.timeoutMs === null ? {} : { timeout: spec.timeoutMs }),
              handler: (ctx) => {
                log.push(`start t${i}`);
                startedAt.set(`t${i}`, clock.now());
                if (spec.progress) ctx.progress(0.5);
                clock.block(spec.blockMs);
                // Longer than any timeout: a run with one is timed out; one without ends after 500 ms.
                return new Promise<void>((resolve, reject) => {
                  const timer = clock.setTimer(resolve, 500);
                  ctx.signal.addEventListener('abort', () => {
                    timer.cancel();
                    reject(ctx.signal.reason);
                  });
                });
              },
            });
          });
          const finished = new Map<string, { status: string; at: number }>();
          scheduler.on('run:started', (r) => log.push(`started ${r.task}`));
          scheduler.on('run:progress', (p) => log.push(`progress ${p.task}`));
          scheduler.on('run:finished', (r) => {
            log.push(`finished ${r.task}`);
            finished.set(r.task, { status: r.status, at: r.finishedAt?.getTime() ?? Number.NaN });
          });
          try {
            await scheduler.start();
            const instant = Date.parse('2026-01-01T00:01:00.000Z');
            await clock.advanceTo(instant - 3);
            await realTurns(5);
            assert.equal(log.length, 0, 'nothing before the instant');
            await clock.advanceTo(instant);
            await realTurns(20);
            for (let i = 0; i < 12; i++) {
              await clock.advance(100);
              await realTurns(10);
            }
            // Each once (tasks due together have no order among them), back to back: only the
            // handlers' own work between the starts.
            const starts = log.filter((l) => l.startsWith('start '));
            assert.deepEqual([...starts].sort(), tasks.map((_, i) => `start t${i}`).sort());
            let expected = instant;
            for (const line of starts) {
              const name = line.slice('start '.length);
              assert.equal(startedAt.get(name), expected, `${name} starts when the handlers before it are done`);
              expected += tasks[Number(name.slice(1))]?.blockMs ?? 0;
            }
            const releaseEnd = expected;
            // Nothing of another run between the starts: only a run's own progress brings its run:started forward.
            const lastStart = log.findLastIndex((l) => l.startsWith('start '));
            for (const line of log.slice(0, lastStart)) {
              if (line.startsWith('start ')) continue;
              const task = line.split(' ')[1] as string;
              assert.ok(tasks[Number(task.slice(1))]?.progress === true, `${line} before the last start`);
            }
            tasks.forEach((spec, i) => {
              const name = `t${i}`;
              const started = log.indexOf(`started ${name}`);
              assert.ok(started >= 0 && log.lastIndexOf(`started ${name}`) === started, `${name}: run:started once`);
              if (spec.progress) assert.ok(log.indexOf(`progress ${name}`) > started, `${name}: started before progress`);
              assert.ok(log.indexOf(`finished ${name}`) > started, `${name}: started before finished`);
              const end = finished.get(name);
              const start = startedAt.get(name) as number;
              if (spec.timeoutMs === null || spec.timeoutMs >= 500 + spec.blockMs) {
                assert.equal(end?.status, 'succeeded', `${name} without a timeout that bites`);
              } else {
                assert.equal(end?.status, 'timed_out', name);
                // From its own start: not before it, and no later than when the loop was free again.
                assert.ok((end?.at ?? 0) >= start + spec.timeoutMs, `${name}: timed out ${(end?.at ?? 0) - start} ms after its start, timeout ${spec.timeoutMs}`);
                assert.ok((end?.at ?? 0) <= Math.max(start + spec.timeoutMs, releaseEnd, start + spec.blockMs), `${name}: timed out late`);
              }
            });
          } finally {
            await scheduler.stop();
            close();
          }
        }),
        { numRuns: 25 },
      );
    });
  });
}
