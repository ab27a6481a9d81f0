/**
 * Smart scheduling in four replica processes on real databases: `after` fan-in runs each
 * downstream run once, `when` checks a real file, `defer` holds runs while the services say they
 * are busy, and windows and blackouts hold on real clocks.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { backends, useBackend } from './backends.ts';
import { stopReplicas, storeRuns } from './cluster.ts';

const pad = (n: number) => String(n).padStart(2, '0');
/** `HH:MM` in UTC of an instant. */
const clock = (ms: number) => `${pad(new Date(ms).getUTCHours())}:${pad(new Date(ms).getUTCMinutes())}`;

for (const backend of backends) {
  describe(`smart scheduling in four replicas on ${backend.name}`, { skip: backend.skip, concurrency: false }, () => {
    const { backend: store, replicas } = useBackend(backend.name);

    it('after fans in once per end; when, defer and windows hold across processes', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'caretaker-smart-mp-'));
      const flag = join(dir, 'flag');
      try {
        const c = store().config('smart');
        const now = Date.now();
        // A window (and a blackout) from this minute for two minutes: the whole test is inside.
        const span = { from: clock(now), to: clock(now + 120_000) };
        const tasks = [
          { name: 'u1', schedule: { every: '1s' }, workMs: 40 },
          { name: 'u2', schedule: { every: '1s' }, workMs: 120 },
          { name: 'fan', after: { tasks: ['u1', 'u2'], mode: 'all' }, workMs: 10, overlap: 'allow' },
          { name: 'each', after: 'u1', workMs: 10, overlap: 'allow' },
          { name: 'cond', schedule: { every: '1s' }, workMs: 10, whenFile: flag },
          { name: 'quiet', schedule: { every: '1s' }, workMs: 10, defer: { while: { busy: true }, maxDelay: '1500ms', then: 'skip', checkEvery: '1s' } },
          { name: 'inside', schedule: { every: '1s' }, workMs: 10, windows: [span], outside: 'skip' },
          { name: 'blacked', schedule: { every: '1s' }, workMs: 10, blackout: [span], outside: 'skip' },
        ];
        const cluster = await replicas(c, tasks, { lease: '3s', pollInterval: '300ms' });
        const busy = (value: boolean) => cluster.forEach((r) => r.child.send({ type: 'busy', busy: value }));
        busy(true);
        await sleep(3_500);
        busy(false);
        writeFileSync(flag, '');
        await sleep(4_000);
        const stopAt = Date.now();
        await stopReplicas(cluster);
        const all = await store().withStore(c, (s) => storeRuns(s));
        const of = (task: string) => all.filter((r) => r.task === task);
        for (const r of cluster) assert.deepEqual(r.messages.filter((m) => m.type === 'error'), [], `${r.instance} reported no error`);

        // after: one run per upstream end (its slot), caused by it, on several replicas.
        const ups = new Map(all.filter((r) => r.task === 'u1' || r.task === 'u2').map((r) => [r.id, r]));
        for (const task of ['fan', 'each']) {
          const runs = of(task);
          assert.equal(new Set(runs.map((r) => r.slot)).size, runs.length, `${task}: each upstream end ran once`);
          assert.ok(runs.every((r) => r.trigger === 'dependency' && ups.get(r.causedBy as string)?.status === 'succeeded'));
        }
        const u1Ends = of('u1').filter((r) => r.status === 'succeeded' && (r.finishedAt?.getTime() ?? Infinity) < stopAt - 1_500);
        const eachSlots = new Set(of('each').map((r) => r.slot));
        assert.ok(u1Ends.length >= 5, `${u1Ends.length} ends of u1`);
        assert.deepEqual(u1Ends.filter((r) => !eachSlots.has(`d:${r.id}`)).map((r) => r.finishedAt?.toISOString()), [], 'every end of u1 started "each"');
        const fan = of('fan');
        assert.ok(fan.length >= 4 && fan.length <= of('u2').length + 1, `fan ran ${fan.length} times for ${of('u2').length} runs of u2`);
        assert.ok(new Set(of('each').map((r) => r.instance)).size >= 2, 'dependency runs spread over replicas');

        // when: skipped (condition) until the file existed, then ran.
        const cond = of('cond');
        assert.ok(cond.some((r) => r.status === 'skipped' && r.skipReason === 'condition' && r.error?.message === `no ${flag}`));
        assert.ok(cond.some((r) => r.status === 'succeeded'));
        // A tick claimed ahead just before the stop is recorded interrupted without running: not a condition's doing.
        const beforeStop = cond.filter((r) => r.scheduledFor.getTime() < stopAt - 1_000);
        const odd = beforeStop.filter((r) => !(r.status === 'succeeded' || r.skipReason === 'condition' || r.skipReason === 'overlap'));
        assert.deepEqual(odd.map((r) => `${r.scheduledFor.toISOString()} ${r.status} ${r.skipReason ?? ''} ${r.error?.message ?? ''}`), []);

        // defer: held while busy, skipped at maxDelay; ran once quiet.
        const quiet = of('quiet');
        const deferred = quiet.filter((r) => r.skipReason === 'deferred');
        assert.ok(deferred.length >= 1, 'a held run was skipped at maxDelay');
        assert.ok(deferred.every((r) => (r.deferredMs ?? 0) >= 1_500), 'after its maxDelay');
        assert.ok(quiet.some((r) => r.status === 'succeeded' && (r.startedAt?.getTime() ?? 0) > stopAt - 4_000), 'ran once quiet');

        // windows: inside runs, the blackout holds.
        assert.ok(of('inside').filter((r) => r.status === 'succeeded').length >= 5);
        assert.deepEqual(of('blacked'), [], 'nothing runs in a blackout');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
