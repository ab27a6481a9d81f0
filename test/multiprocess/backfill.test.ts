/**
 * Backfills across four replica processes on real databases: each instant runs once, one at a
 * time, even when the replica running one is killed mid-run.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store } from '../../src/index.ts';
import { uuidv7 } from '../../src/util/ids.ts';
import { backends, type StoreConfig, useBackend } from './backends.ts';
import { stopReplicas, storeRuns, waitFor } from './cluster.ts';

const MINUTE = 60_000;

for (const backend of backends) {
  describe(`a backfill on four replicas on ${backend.name}`, { skip: backend.skip, concurrency: false }, () => {
    const { backend: store, replicas } = useBackend(backend.name);
    const withStore = <T>(c: StoreConfig, work: (s: Store) => Promise<T>) => store().withStore(c, work);

    it('runs each instant once, one at a time, and goes on when the replica running one is killed', async () => {
      const c = store().config('backfill');
      const tasks = [{ name: 'report', schedule: { cron: '0 0 1 1 *' }, workMs: 40 }];
      const cluster = await replicas(c, tasks, { lease: '2s', pollInterval: '300ms' });
      // 120 minutes, each a past instant of a cron expression the backfill is told to run.
      const end = Math.floor(Date.now() / MINUTE) * MINUTE - MINUTE;
      const instants = Array.from({ length: 120 }, (_, i) => end - (119 - i) * MINUTE);
      const id = uuidv7();
      await withStore(c, (s) => s.requestBackfill({ id, task: 'report', from: instants[0] as number, to: end, instants, requestedBy: 'test', requestedAt: Date.now() }));
      // Once a third has started, kill (SIGKILL) whichever replica runs one right now.
      const started = () => cluster.flatMap((r) => r.messages.filter((m) => m.type === 'started').map((m) => ({ runId: m.runId as string, instance: r.instance })));
      await waitFor(() => started().length >= 40, 60_000, 'a third of the backfill to start');
      const ended = new Set(cluster.flatMap((r) => r.messages.filter((m) => m.type === 'ended').map((m) => m.runId)));
      const busy = started().find((m) => !ended.has(m.runId));
      const victim = cluster.find((r) => r.instance === (busy?.instance ?? cluster[0]?.instance)) as (typeof cluster)[number];
      victim.child.kill('SIGKILL');
      await victim.exited;
      const done = async () => (await withStore(c, (s) => s.getBackfill(id)))?.status === 'done';
      await waitFor(done, 90_000, 'the backfill to be done');
      await stopReplicas(cluster.filter((r) => r !== victim));
      const runs = (await withStore(c, (s) => storeRuns(s, 'report'))).filter((r) => r.slot.startsWith(`b:${id}:`));
      const firsts = runs.filter((r) => r.attempt === 1);
      assert.deepEqual(
        firsts.map((r) => r.scheduledFor.getTime()).sort((a, b) => a - b),
        instants,
        'every instant has exactly one first attempt',
      );
      assert.ok(firsts.every((r) => r.trigger === 'backfill'));
      // The killed replica's run was reaped when its lease lapsed; every other one succeeded.
      const notOk = firsts.filter((r) => r.status !== 'succeeded');
      assert.ok(notOk.length <= 1 && notOk.every((r) => r.status === 'interrupted' && r.instance === victim.instance), JSON.stringify(notOk.map((r) => [r.status, r.instance])));
      // One at a time: no two backfill runs overlapped (the handlers' own start and end, across processes).
      const spans = cluster
        .flatMap((r) => r.messages.filter((m) => m.type === 'started').map((m) => ({ runId: m.runId as string, at: m.at as number, end: (r.messages.find((e) => e.type === 'ended' && e.runId === m.runId)?.at as number | undefined) ?? Number.POSITIVE_INFINITY })))
        .sort((a, b) => a.at - b.at);
      for (let i = 1; i < spans.length; i++) {
        const previous = spans[i - 1] as (typeof spans)[number];
        // The killed handler never reported its end: its successor waited for its lease instead.
        if (previous.end !== Number.POSITIVE_INFINITY) assert.ok((spans[i]?.at ?? 0) >= previous.end, `run ${spans[i]?.runId} started before ${previous.runId} ended`);
      }
      const record = await withStore(c, (s) => s.getBackfill(id));
      assert.equal(record?.progress.pending, 0);
      assert.equal(record?.progress.running, 0);
      assert.equal((record?.progress.succeeded ?? 0) + (record?.progress.failed ?? 0), 120);
      assert.ok(new Set(firsts.map((r) => r.instance)).size >= 2, 'another replica carried on after the kill');
    });
  });
}
