/**
 * A handler that never settles and ignores its abort signal, on a real SQLite store and the real
 * clock (the abort grace is what is under test): the run is timed out and recorded, its slot is
 * freed for other work, and the task's later ticks run again.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { createScheduler, type RunRecord, sqliteStore } from '../../src/index.ts';
import { waitFor } from '../multiprocess/cluster.ts';

it('a stuck handler is timed out, recorded, and its slot freed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'caretaker-stuck-'));
  // One slot: while the stuck handler held it, nothing else could run.
  const scheduler = createScheduler({ store: sqliteStore({ path: join(dir, 'state.db') }), concurrency: 1 });
  const stuckStarts: number[] = [];
  let healthyAfterStuck = 0;
  scheduler.add({
    name: 'stuck',
    schedule: { every: '1h' },
    timeout: '300ms',
    abortGrace: '200ms',
    // Never settles and never looks at ctx.signal.
    handler: () => {
      stuckStarts.push(Date.now());
      return new Promise(() => {});
    },
  });
  scheduler.add({ name: 'healthy', schedule: { every: '100ms' }, priority: -1, handler: () => void (stuckStarts.length > 0 && healthyAfterStuck++) });
  const finished: RunRecord[] = [];
  scheduler.on('run:finished', (r) => finished.push(r));
  try {
    await scheduler.start();
    await waitFor(() => finished.some((r) => r.task === 'stuck'), 5_000, 'the stuck run to be recorded');
    const stuck = finished.find((r) => r.task === 'stuck') as RunRecord;
    assert.equal(stuck.status, 'timed_out');
    assert.equal(stuck.error?.code, 'ERR_RUN_TIMEOUT');
    const heldFor = (stuck.finishedAt?.getTime() ?? 0) - (stuck.startedAt?.getTime() ?? 0);
    assert.ok(heldFor >= 300 + 200 - 5 && heldFor < 2_000, `recorded ${heldFor} ms after it started (timeout 300 ms + grace 200 ms)`);
    const before = healthyAfterStuck;
    await waitFor(() => healthyAfterStuck >= before + 3, 3_000, 'other work to run in the freed slot');
    assert.equal((await scheduler.getRun(stuck.id))?.status, 'timed_out', 'the store holds the same record');
    // The task itself is not wedged: a manual run starts (and is stuck in turn).
    await scheduler.trigger('stuck');
    await waitFor(() => stuckStarts.length === 2, 3_000, 'the next run of the stuck task');
  } finally {
    await scheduler.stop({ timeout: '1s' });
    rmSync(dir, { recursive: true, force: true });
  }
});
