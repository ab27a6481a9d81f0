/**
 * SIGTERM to a replica process while three handlers run, on real databases. The stop is
 * graceful: a handler that finishes within the stop timeout is not even aborted and is recorded
 * succeeded; one still working is aborted only `abortGrace` before the deadline and recorded
 * interrupted, and so is one that ignores its signal, at the deadline. Nothing is left running.
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
        stopTimeout: '3s',
        tasks: [
          // Would stop on its signal, but finishes within the timeout: it is never aborted.
          { name: 'finishes', ...now, abortGrace: '500ms', workMs: 1_500 },
          { name: 'honours-abort', ...now, abortGrace: '500ms', workMs: 60_000 },
          // Ignores the signal past the stop timeout: abandoned, and recorded so.
          { name: 'stubborn', ...now, abortGrace: '500ms', workMs: 60_000, ignoreAbort: true },
        ],
      });
      await waitFor(() => replica.messages.filter((m) => m.type === 'started').length === 3, 10_000, 'the three runs to start');
      const signalledAt = Date.now();
      replica.child.kill('SIGTERM');
      const code = await replica.exited;
      const took = Date.now() - signalledAt;
      assert.equal(code, 0);
      assert.ok(took >= 2_500 && took < 3_000 + 1_500, `stopped ${took} ms after SIGTERM (stop timeout 3 s)`);
      const ended = (task: string) => replica.messages.find((m) => m.type === 'ended' && m.task === task) as { at: number; aborted: boolean } | undefined;
      assert.equal(ended('finishes')?.aborted, false, 'a run that finishes in time is not aborted');
      const abortedAfter = (ended('honours-abort')?.at ?? 0) - signalledAt;
      assert.ok(abortedAfter >= 2_400 && abortedAfter < 3_000, `aborted ${abortedAfter} ms after SIGTERM: abortGrace (500 ms) before the deadline`);
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
