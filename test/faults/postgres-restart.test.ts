/**
 * PostgreSQL taken away under running replicas, for real: every connection terminated
 * (pg_terminate_backend), then the server crashed (stop -m immediate) and started again. The
 * replicas reconnect with backoff, keep no claim they did not win, run no tick twice and lose
 * no run record. The server is the test's own, so stopping it disturbs no other test.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { postgresStore } from '../../src/index.ts';
import { killAllReplicas, type Replica, startReplica, stopReplicas, storeRuns, waitFor } from '../multiprocess/cluster.ts';
import { type PrivatePostgres, privatePostgresSkip, startPrivatePostgres } from './private-postgres.ts';

/** What a replica reports over IPC (see test/multiprocess/replica.ts). */
interface Message {
  readonly type: string;
  readonly task?: string;
  readonly runId?: string;
  readonly scheduledFor?: number;
  readonly attempt?: number;
  readonly at?: number;
}

const messages = (replicas: readonly Replica[], type: string) =>
  replicas.flatMap((r) => (r.messages as unknown as Message[]).filter((m) => m.type === type).map((m) => ({ ...m, replica: r.instance })));

describe('PostgreSQL restarted under running replicas', { skip: privatePostgresSkip(), concurrency: false }, () => {
  let server: PrivatePostgres;
  before(() => {
    server = startPrivatePostgres();
  });
  after(() => server?.dispose());
  afterEach(killAllReplicas);

  it('connections terminated, then a crash and restart: reconnected with backoff, no tick twice, no record lost', async () => {
    const store = { postgres: server.url, schema: 'faults' };
    const tasks = [
      { name: 'tick', schedule: { every: '1s' }, workMs: 100 },
      // Starts at once and ends while the server is down: its end must be written afterwards.
      { name: 'long', schedule: { every: '1h' }, workMs: 6_000 },
      { name: 'on-demand', schedule: { every: '1d', initialDelay: '1d' }, workMs: 0 },
    ];
    // Polling rarely: after the restart, only a re-established LISTEN brings the manual trigger quickly.
    const options = { store, tasks, lease: '15s', pollInterval: '30s' };
    const replicas = await Promise.all(['a', 'b'].map((instance) => startReplica({ instance, ...options })));
    const t0 = Date.now();
    await sleep(2_500);
    const terminated = await server.terminateConnections();
    await sleep(2_000);
    server.stop('immediate');
    const downAt = Date.now();
    await sleep(2_500);
    server.start();
    const upAt = Date.now();
    await sleep(6_000); // the longest backoff (5 s) and a tick
    const probe = postgresStore({ url: server.url, schema: 'faults' });
    await probe.open();
    const triggeredAt = Date.now();
    await probe.requestTrigger({ id: 'after-restart', task: 'on-demand', requestedAt: triggeredAt });
    await waitFor(() => messages(replicas, 'started').some((m) => m.task === 'on-demand' && (m.at as number) >= triggeredAt), 3_000, 'the manual run after the restart (LISTEN re-established)');
    await sleep(500);
    await stopReplicas(replicas);
    const runs = await storeRuns(probe);
    await probe.close();

    assert.ok(terminated >= 2, `${terminated} connections terminated`);
    const errors = messages(replicas, 'error');
    assert.ok(errors.length > 0, 'the replicas saw the outage');
    // Backoff, not a busy loop: at most a few store calls per second per replica while it was down.
    const duringOutage = errors.filter((e) => (e.at as number) >= downAt && (e.at as number) < upAt + 1_000);
    assert.ok(duringOutage.length <= 2 * 3 * 12, `${duringOutage.length} errors in ${upAt + 1_000 - downAt} ms`);

    // No claim kept that was not won: every handler start is a run the store gave that replica.
    const started = messages(replicas, 'started');
    const byId = new Map(runs.map((r) => [r.id, r]));
    for (const s of started) assert.equal(byId.get(s.runId as string)?.instance, s.replica, `run ${String(s.runId)} started on ${s.replica}`);
    // No tick twice: one handler start per (task, tick, attempt).
    const keys = started.map((s) => `${String(s.task)}@${String(s.scheduledFor)}#${String(s.attempt)}`);
    assert.equal(new Set(keys).size, keys.length, 'a tick ran twice');

    // No record lost: every tick of the window has one record, nothing is left running, and
    // the runs in flight across the outage are recorded as they ended.
    const ticks = runs.filter((r) => r.task === 'tick' && r.scheduledFor.getTime() >= t0 + 1_000 && r.scheduledFor.getTime() <= triggeredAt);
    const slots = ticks.map((r) => r.scheduledFor.getTime()).sort((x, y) => x - y);
    assert.equal(new Set(slots).size, slots.length, 'one record per tick');
    for (let i = 1; i < slots.length; i++) assert.equal(slots[i]! - slots[i - 1]!, 1_000, `a tick without a record after ${new Date(slots[i - 1]!).toISOString()}`);
    assert.deepEqual(runs.filter((r) => r.status === 'running').map((r) => r.task), [], 'a run left running');
    const long = runs.filter((r) => r.task === 'long');
    assert.deepEqual(long.map((r) => [r.trigger, r.status]), [['schedule', 'succeeded']]);
    assert.deepEqual(runs.filter((r) => r.task === 'on-demand').map((r) => [r.trigger, r.status]), [['manual', 'succeeded']]);
    assert.ok(long[0]!.finishedAt!.getTime() >= downAt && long[0]!.finishedAt!.getTime() < upAt, 'the first long run ended while the server was down');
    assert.ok(ticks.filter((r) => r.status !== 'skipped').every((r) => r.status === 'succeeded'), JSON.stringify(ticks.filter((r) => r.status !== 'succeeded' && r.status !== 'skipped')));
  });
});
