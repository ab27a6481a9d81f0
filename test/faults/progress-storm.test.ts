/**
 * A handler that reports progress per item, tens of thousands of times a second. Progress is
 * published at most every 250 ms per run, newest value first and one write in flight, so the
 * store's pool is not flooded and lease renewals and the run's end never queue behind it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { createScheduler, memoryStore, postgresStore, type Store, type TaskContext } from '../../src/index.ts';
import { postgresSkip, testDatabase } from '../helpers/postgres.ts';
import { harness, runsOf } from '../helpers.ts';

describe('a flood of progress reports', () => {
  it('is published at most every 250 ms per run, the newest value winning (virtual time)', async () => {
    let writes = 0;
    const inner = memoryStore();
    const counting = new Proxy(inner, {
      get(target, property) {
        const value = Reflect.get(target, property) as unknown;
        if (property === 'recordProgress') return (...args: Parameters<Store['recordProgress']>) => (writes++, target.recordProgress(...args));
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const h = harness({ store: counting });
    const events: number[] = [];
    h.scheduler.on('run:progress', (p) => events.push(p.fraction));
    const N = 30_000;
    h.scheduler.add({
      name: 'items',
      schedule: { every: '1h' },
      handler: async (ctx: TaskContext) => {
        for (let i = 1; i <= N; i++) {
          ctx.progress(i / N, `item ${i}`);
          if (i % 1_000 === 0) await h.clock.sleep(100); // 3 s in all
        }
      },
    });
    await h.scheduler.start();
    await h.clock.advance(4_000);
    await h.scheduler.onIdle();
    await h.scheduler.stop();
    assert.ok(writes >= 10 && writes <= 14, `${writes} progress writes for ${N} reports over 3 s`);
    assert.equal(events.length, writes);
    assert.ok(events.every((f, i) => i === 0 || f > (events[i - 1] ?? 0)), 'each publication is newer than the last');
    const [run] = await runsOf(h.scheduler, 'items');
    assert.deepEqual(run?.progress, { fraction: 1, message: `item ${N}` }, 'the last report is recorded with the end');
  });
});

const skip = await postgresSkip();

describe('a flood of progress reports on PostgreSQL', { skip }, () => {
  let database: Awaited<ReturnType<typeof testDatabase>>;
  before(async () => {
    database = await testDatabase();
  });
  after(async () => database?.drop());

  it('does not starve lease renewals: no false interrupt, no second run (2 replicas, lease 3 s)', async () => {
    let starts = 0;
    const replicas = ['a', 'b'].map((instance) => {
      const scheduler = createScheduler({ store: postgresStore({ url: database.url, schema: 'storm' }), instance, lease: '3s', pollInterval: '500ms' });
      scheduler.add({
        name: 'storm',
        schedule: { every: '1h', initialDelay: '1h' },
        retry: { attempts: 3, backoff: '100ms' },
        handler: async (ctx: TaskContext) => {
          starts++;
          const n = 60_000;
          for (let i = 0; i < n; i++) {
            ctx.progress(i / n);
            if (i % 2_000 === 0) await nextTurn();
          }
          await new Promise((resolve) => setTimeout(resolve, 4_000)); // outlive the lease
          return 'done';
        },
      });
      return scheduler;
    });
    try {
      for (const s of replicas) await s.start();
      await replicas[0]!.trigger('storm');
      const deadline = Date.now() + 20_000;
      let runs = await runsOf(replicas[0]!, 'storm');
      while (Date.now() < deadline && runs[0]?.status !== 'succeeded') {
        await new Promise((resolve) => setTimeout(resolve, 200));
        runs = await runsOf(replicas[0]!, 'storm');
      }
      assert.deepEqual(runs.map((r) => [r.attempt, r.status]), [[1, 'succeeded']]);
      assert.equal(starts, 1, 'the handler ran once');
    } finally {
      for (const s of replicas) await s.stop({ timeout: '1s' });
    }
  });
});
