/**
 * Real processes on real databases, in real time: what "exactly once across replicas" means.
 * Bounds are generous; the assertions are about counts and order, not milliseconds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Store } from '../../src/index.ts';
import { backends, type StoreConfig, useBackend } from './backends.ts';
import { startReplica, stopReplicas, storeRuns, waitFor } from './cluster.ts';

for (const backend of backends) {
  describe(`four replicas on ${backend.name}`, { skip: backend.skip, concurrency: false }, () => {
    const { backend: store, replicas } = useBackend(backend.name);
    const config = (name: string) => store().config(name);
    const withStore = <T>(c: StoreConfig, work: (s: Store) => Promise<T>) => store().withStore(c, work);

    it('run each tick of a per-second task exactly once over 60+ ticks', async () => {
      const c = config('ticks');
      const cluster = await replicas(c, [{ name: 'tick', schedule: { every: '1s' }, workMs: 20 }]);
      await sleep(62_000);
      await stopReplicas(cluster);
      const runs = await withStore(c, (store) => storeRuns(store, 'tick'));
      const ran = runs.filter((r) => r.status !== 'skipped');
      const ticks = ran.map((r) => r.scheduledFor.getTime());
      assert.ok(ran.length >= 60, `${ran.length} runs`);
      assert.equal(new Set(ticks).size, ticks.length, 'no tick ran twice');
      const sorted = [...ticks].sort((a, b) => a - b);
      for (let i = 1; i < sorted.length; i++) assert.equal((sorted[i] as number) - (sorted[i - 1] as number), 1000, 'no tick was missed');
      assert.ok(ran.every((r) => r.status === 'succeeded' || r.status === 'interrupted'), 'every run finished');
      assert.ok(new Set(ran.map((r) => r.instance)).size >= 2, 'the work spread over replicas');
      // Lateness targets live in the benchmark (npm run bench -- --only cluster); here, only that no run waited for a later tick.
      const late = ran.filter((r) => (r.latenessMs ?? Number.POSITIVE_INFINITY) >= 1000);
      assert.deepEqual(late.map((r) => r.latenessMs), [], 'every run started before its next tick was due');
    });

    for (const policy of ['latest', 'all', 'none'] as const) {
      it(`all replicas down for three ticks: catchUp ${policy}`, async () => {
        const c = config(`catchup_${policy}`);
        const I = 2_000;
        const tasks = [{ name: 'beat', schedule: { every: '2s', anchor: '1970-01-01T00:00:00Z' }, catchUp: policy, workMs: 0 }];
        const before = await replicas(c, tasks);
        await waitFor(() => before.some((r) => r.messages.some((m) => m.type === 'started')), 10_000, 'a first run');
        await stopReplicas(before);
        const lastBefore = Math.max(...(await withStore(c, (store) => storeRuns(store, 'beat'))).map((r) => r.scheduledFor.getTime()));
        // The first replica back starts 1.2 s after a tick: no tick falls in the second before its
        // start (LIVE_GRACE_MS), so every tick of the outage up to `restartTick` was surely missed.
        let restartTick = lastBefore + 3 * I;
        while (restartTick + 1_200 < Date.now() + 300) restartTick += I;
        const first = await startReplica({ instance: 'b0', store: c, tasks, startAt: restartTick + 1_200 });
        const rest = await Promise.all([1, 2, 3].map((i) => startReplica({ instance: `b${i}`, store: c, tasks })));
        await sleep(Math.max(0, restartTick + I + 1_000 - Date.now()));
        await stopReplicas([first, ...rest]);
        const runs = (await withStore(c, (store) => storeRuns(store, 'beat')))
          .filter((r) => r.scheduledFor.getTime() > lastBefore)
          .sort((a, b) => a.scheduledFor.getTime() - b.scheduledFor.getTime());

        const ticks = runs.flatMap((r) => Array.from({ length: r.skippedTicks || 1 }, (_, k) => r.scheduledFor.getTime() + k * I));
        assert.equal(new Set(ticks).size, ticks.length, 'no tick has two records');
        const expectedTicks = Array.from({ length: (restartTick + I - lastBefore) / I }, (_, k) => lastBefore + (k + 1) * I);
        assert.deepEqual([...ticks].sort((a, b) => a - b).slice(0, expectedTicks.length), expectedTicks, 'every tick has a record');

        const missed = runs.filter((r) => r.scheduledFor.getTime() <= restartTick);
        const live = runs.filter((r) => r.scheduledFor.getTime() > restartTick);
        assert.ok(live.every((r) => r.trigger === 'schedule' && r.status === 'succeeded'), `ticks after the restart ran live: ${JSON.stringify(live.map((r) => [r.trigger, r.status]))}`);
        const outcome = missed.map((r) => (r.status === 'skipped' ? `skipped:${r.skipReason}:${r.skippedTicks}` : `${r.trigger}:${r.status}`));
        const missedTicks = ticks.filter((t) => t <= restartTick).length;
        // Only a start-up slower than 0.8 s puts the next tick in the grace second before start;
        // that tick, run live, is then the one run `latest` gives the outage.
        const ready = first.messages.find((m) => m.type === 'ready') as { readyAt: number };
        const startedBeforeNextTick = ready.readyAt < restartTick + I;
        // The ticks that do not run are one record for the whole outage.
        const expected = {
          latest: startedBeforeNextTick ? [`skipped:missed:${missedTicks - 1}`, 'catch-up:succeeded'] : [`skipped:missed:${missedTicks}`],
          all: Array.from({ length: missedTicks }, () => 'catch-up:succeeded'),
          none: [`skipped:missed:${missedTicks}`],
        }[policy];
        assert.ok(missedTicks >= 3, `${missedTicks} ticks missed`);
        assert.deepEqual(outcome, expected);
      });
    }

    it('a restart keeps the cadence of an every task across processes', async () => {
      const c = config('cadence');
      const tasks = [{ name: 'cadence', schedule: { every: '2s' }, catchUp: 'none', workMs: 0 }];
      const first = await startReplica({ instance: 'first', store: c, tasks });
      await sleep(2_500);
      await stopReplicas([first]);
      await sleep(700); // restart off the cadence's phase
      const second = await startReplica({ instance: 'second', store: c, tasks });
      await sleep(4_500);
      await stopReplicas([second]);
      const runs = (await withStore(c, (store) => storeRuns(store, 'cadence'))).filter((r) => r.status !== 'skipped');
      const anchor = runs[0]?.scheduledFor.getTime() ?? 0;
      assert.ok(runs.some((r) => r.instance === 'second'), 'the second process ran the task');
      for (const run of runs) assert.equal((run.scheduledFor.getTime() - anchor) % 2_000, 0, `${run.instance} ran off the cadence`);
    });
  });
}
