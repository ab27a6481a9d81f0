/**
 * The store goes away under a running scheduler (a database restart, a network cut), in virtual
 * time: ticks are delayed, not lost or doubled; a run's end is recorded once the store is back;
 * a run whose lease cannot be renewed stops before another replica may take it over; a claim
 * whose reply was lost is never run on a guess. The same faults on a real PostgreSQL server are
 * in postgres-outage.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memoryStore, type RunRecord } from '../../src/index.ts';
import { harness, runsOf, secs, work } from '../helpers.ts';
import { outageStore } from './outage-store.ts';

const S = 1_000;

/** Each tick's records: one per tick, whatever became of it. */
function bySlot(runs: readonly RunRecord[]): Map<number, RunRecord[]> {
  const out = new Map<number, RunRecord[]>();
  for (const r of runs) {
    const key = secs(r.scheduledFor) as number;
    out.set(key, [...(out.get(key) ?? []), r]);
  }
  return out;
}

describe('store outage (virtual time)', () => {
  it('30 s without the store: the run in flight is recorded as it ended, due ticks are delayed, none doubled', async () => {
    const outage = outageStore(memoryStore());
    // Polling every second: after the outage the poll that would reap a lapsed lease comes
    // before the retried write of the run's end.
    const h = harness({ store: outage.store, pollInterval: '1s' });
    h.scheduler.add({ name: 'm', schedule: { every: '10s' }, handler: work(h.clock, 5 * S, { ok: true }) });
    await h.scheduler.start();
    await h.clock.advance(12 * S); // the run of tick 10 s is in flight; it ends at 15 s
    outage.down();
    await h.clock.advance(30_900); // back just before a poll, so the poll sees the lapsed lease first
    outage.up();
    await h.clock.advance(33_100); // to 76 s: the run of tick 70 s has ended
    await h.scheduler.stop();

    const runs = await runsOf(h.scheduler, 'm');
    const slots = bySlot(runs);
    // Every tick from 0 to 70 s has exactly one record: ran, or skipped with its reason.
    assert.deepEqual([...slots.keys()].sort((a, b) => a - b), [0, 10, 20, 30, 40, 50, 60, 70]);
    for (const [slot, records] of slots) assert.equal(records.length, 1, `tick ${slot} s has ${records.length} records`);
    const inFlight = slots.get(10)?.[0];
    assert.equal(inFlight?.status, 'succeeded', 'the run that ended during the outage is recorded as it ended');
    assert.deepEqual(inFlight?.output, { ok: true });
    assert.equal(secs(inFlight?.finishedAt ?? null), 15, 'with the instant it really ended');
    // The first tick due in the outage runs once the store is back; the rest overlap it.
    const late = slots.get(20)?.[0];
    assert.equal(late?.status, 'succeeded');
    // Within the longest claim backoff (5 s) of the store's return at 42.9 s.
    const lateStart = secs(late?.startedAt ?? null) ?? 0;
    assert.ok(lateStart >= 42.9 && lateStart <= 42.9 + 5, `tick 20 s ran at ${lateStart} s`);
    assert.deepEqual([30, 40].map((t) => [slots.get(t)?.[0]?.status, slots.get(t)?.[0]?.skipReason]), [['skipped', 'overlap'], ['skipped', 'overlap']]);
    assert.ok(runs.filter((r) => r.status !== 'skipped').every((r) => r.status === 'succeeded'), 'nothing left running or interrupted');
    // Backoff, not a busy loop: a claim per replica at most every 5 s once the backoff has grown.
    const claims = outage.failedCalls.get('claim') ?? 0;
    // Ends go out through the batch writer (finishMany), a lone end as a batch of one.
    const finishes = (outage.failedCalls.get('finish') ?? 0) + (outage.failedCalls.get('finishMany') ?? 0);
    assert.ok(claims >= 3 && claims <= 12, `${claims} failed claims in 30 s`);
    assert.ok(finishes >= 3 && finishes <= 12, `${finishes} failed attempts to record the end in 30 s`);
    // Renewals fail too now: the heartbeat keeps renewing a run's lease until its end is written.
    const failed = [...outage.failedCalls.values()].reduce((a, b) => a + b, 0);
    assert.equal(h.errors.length, failed, 'every failure is reported as an error event');
  });

  it('longer than the lease: the handler is stopped before its lease lapses, and the retry never runs beside it', async () => {
    const outage = outageStore(memoryStore());
    const clockHost = harness({ store: outage.store, instance: 'r0', lease: '15s', pollInterval: '1s' });
    const other = harness({ clock: clockHost.clock, store: outage.store, instance: 'r1', lease: '15s', pollInterval: '1s' });
    const clock = clockHost.clock;
    let live = 0;
    let mostAtOnce = 0;
    const aborted: number[] = [];
    const task = {
      name: 'long',
      schedule: { every: '1h' },
      retry: { attempts: 2, backoff: '1s' },
      handler: async (ctx: { signal: AbortSignal }) => {
        live++;
        mostAtOnce = Math.max(mostAtOnce, live);
        try {
          await clock.sleep(60 * S, ctx.signal);
        } catch (error) {
          aborted.push(clock.now());
          throw error;
        } finally {
          live--;
        }
      },
    };
    clockHost.scheduler.add(task);
    other.scheduler.add(task);
    await clockHost.scheduler.start();
    await other.scheduler.start();
    await clock.advance(S);
    outage.down();
    await clock.advance(40 * S);
    outage.up();
    await clock.advance(80 * S);
    await clockHost.scheduler.stop();
    await other.scheduler.stop();

    const runs = await runsOf(clockHost.scheduler, 'long');
    const [first, retry] = runs;
    assert.equal(runs.length, 2, JSON.stringify(runs.map((r) => [r.attempt, r.status])));
    assert.equal(aborted.length, 1, 'the first handler was aborted');
    const lapse = first!.scheduledFor.getTime() + 15 * S;
    assert.ok(aborted[0]! < lapse, `aborted at ${secs(new Date(aborted[0]!))} s, before the lease lapsed at ${secs(new Date(lapse))} s`);
    assert.equal(first?.status, 'interrupted');
    assert.equal(first?.error?.code, 'ERR_LEASE_LOST');
    assert.equal(retry?.attempt, 2);
    assert.equal(retry?.status, 'succeeded');
    assert.equal(mostAtOnce, 1, 'never two handlers of the run at once');
  });

  it('a claim whose reply is lost is never run on a guess; the lease lapses and the retry runs it once', async () => {
    const outage = outageStore(memoryStore());
    const h = harness({ store: outage.store, lease: '15s', pollInterval: '1s' });
    const starts: number[] = [];
    h.scheduler.add({ name: 'once', schedule: { every: '1h', initialDelay: '10s' }, retry: { attempts: 2, backoff: '1s' }, handler: () => void starts.push(h.clock.now()) });
    await h.scheduler.start();
    outage.loseReplyOf('claim');
    await h.clock.advance(60 * S);
    await h.scheduler.stop();
    const runs = await runsOf(h.scheduler, 'once');
    assert.equal(outage.failedCalls.get('claim'), 1);
    assert.deepEqual(runs.map((r) => [r.attempt, r.status, r.error?.code ?? null]), [[1, 'interrupted', 'ERR_LEASE_LOST'], [2, 'succeeded', null]]);
    assert.equal(starts.length, 1, 'the tick ran once');
    // (A claim records its planned start; the handler never ran for the first attempt.)
    assert.ok(starts[0]! >= (runs[0]?.finishedAt?.getTime() ?? Infinity), `ran at ${secs(new Date(starts[0]!))} s, by the retry after the lease lapsed`);
  });
});
