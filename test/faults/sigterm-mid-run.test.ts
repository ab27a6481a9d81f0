/**
 * SIGTERM to a replica process while three handlers run, on real databases: one that finishes
 * within the stop timeout is recorded succeeded, one that honours its abort signal and one that
 * ignores it are recorded interrupted; nothing is left running, nothing silently lost.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backends, useBackend } from '../multiprocess/backends.ts';
import { startReplica, storeRuns, waitFor } from '../multiprocess/cluster.ts';

for (const backend of backends) {
  describe(`SIGTERM mid-run on ${backend.name}`, { skip: backend.skip }, () => {
    const { backend: store } = useBackend(backend.name);

    it('every run in flight is recorded as it ended: succeeded, or interrupted', async () => {
      const config = store().config('sigterm');
      const now = { schedule: { every: '1h' } };
      const replica = await startReplica({
        instance: 'r0',
        store: config,
        stopTimeout: '2s',
        tasks: [
          // Uninterruptible but short: it is allowed to finish.
          { name: 'finishes', ...now, workMs: 1_500, ignoreAbort: true },
          { name: 'honours-abort', ...now, workMs: 60_000 },
          // Ignores the signal past the stop timeout: abandoned, and recorded so.
          { name: 'stubborn', ...now, workMs: 60_000, ignoreAbort: true },
        ],
      });
      await waitFor(() => replica.messages.filter((m) => m.type === 'started').length === 3, 10_000, 'the three runs to start');
      const signalledAt = Date.now();
      replica.child.kill('SIGTERM');
      const code = await replica.exited;
      const took = Date.now() - signalledAt;
      assert.equal(code, 0);
      assert.ok(took < 2_000 + 1_500, `stopped ${took} ms after SIGTERM (stop timeout 2 s)`);
      const stopped = replica.messages.find((m) => m.type === 'stopped');
      assert.deepEqual(stopped, { type: 'stopped', interrupted: ['honours-abort', 'stubborn'], finished: ['finishes'] });
      const runs = await store().withStore(config, (s) => storeRuns(s));
      assert.deepEqual(
        runs.map((r) => [r.task, r.status, r.error?.code ?? null]).sort(),
        [
          ['finishes', 'succeeded', null],
          ['honours-abort', 'interrupted', 'ERR_SHUTDOWN'],
          ['stubborn', 'interrupted', 'ERR_SHUTDOWN'],
        ],
      );
      assert.ok(runs.every((r) => r.finishedAt !== null && r.startedAt !== null));
    });
  });
}
