/**
 * kill -9 of the replica running a long handler, on real processes and real databases: the run
 * is recorded interrupted once its lease lapses, retried on another replica, never twice at once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunRecord } from '../../src/index.ts';
import { backends, useBackend } from '../multiprocess/backends.ts';
import { type Replica, stopReplicas, storeRuns, waitFor } from '../multiprocess/cluster.ts';

for (const backend of backends) {
  describe(`kill -9 on ${backend.name}`, { skip: backend.skip, concurrency: false }, () => {
    const { backend: store, replicas } = useBackend(backend.name);
    const config = (name: string) => store().config(name);

    it('kill -9 of the replica running a long handler: interrupted within the lease, retried by another, never twice at once', async () => {
      const c = config('kill');
      // Due at once when the first replica registers it (however long the processes took to boot).
      const task = { name: 'long', schedule: { every: '1h' }, retry: { attempts: 3, backoff: '100ms' }, workMs: 20_000 };
      const cluster = await replicas(c, [task], { lease: '3s', pollInterval: '500ms' });
      let running: Replica | undefined;
      await waitFor(() => (running = cluster.find((r) => r.messages.some((m) => m.type === 'started'))) !== undefined, 10_000, 'the run to start');
      const killedAt = Date.now();
      running!.child.kill('SIGKILL');
      await running!.exited;
      let runs: RunRecord[] = [];
      await waitFor(
        async () => {
          runs = await store().withStore(c, (s) => storeRuns(s, 'long'));
          return runs.length >= 2 && runs[1]?.status === 'running';
        },
        15_000,
        'the retry to start on another replica',
      );
      await stopReplicas(cluster);
      const [first, retry] = runs as [RunRecord, RunRecord];
      assert.equal(first.instance, running!.instance);
      assert.equal(first.status, 'interrupted');
      assert.equal(first.error?.code, 'ERR_LEASE_LOST');
      assert.notEqual(retry.instance, running!.instance);
      assert.equal(retry.trigger, 'retry');
      assert.equal(retry.attempt, 2);
      assert.ok((retry.startedAt?.getTime() ?? 0) >= (first.finishedAt?.getTime() ?? Infinity), 'the retry began only after the lease lapsed');
      assert.ok((retry.startedAt?.getTime() ?? Infinity) - killedAt <= 3_000 + 2_000, `retried ${(retry.startedAt?.getTime() ?? 0) - killedAt} ms after the kill (lease 3 s)`);
    });

  });
}
