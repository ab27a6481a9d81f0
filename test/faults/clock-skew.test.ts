/**
 * Replicas whose wall clocks disagree with each other and with the store's. Ticks and leases are
 * judged by the store's clock (measured on round trips), so skew up to the lease causes no early
 * run, no false interrupt and no false `missed` record. Virtual time on a memory store that has
 * a clock of its own, then real time on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Clock, createScheduler, memoryStore, postgresStore, type RunRecord, type Store, systemClock } from '../../src/index.ts';
import { createAdminApi } from '../../src/http/index.ts';
import { createTestClock, type TestClock } from '../../src/testing/index.ts';
import { postgresSkip, testDatabase } from '../helpers/postgres.ts';
import { runsOf, T0 } from '../helpers.ts';

/** A clock `skewMs()` off `base`'s wall clock; elapsed time and timers are base's. */
function skewed(base: Clock, skewMs: number | (() => number)): Clock {
  const skew = typeof skewMs === 'number' ? () => skewMs : skewMs;
  return {
    now: () => base.now() + skew(),
    monotonic: () => base.monotonic(),
    setTimer: (callback, delayMs, options) => base.setTimer(callback, delayMs, options),
    ...(base.nextTurn !== undefined ? { nextTurn: base.nextTurn.bind(base) } : {}),
  };
}

/** A memory store with a clock of its own, like PostgreSQL's: `truth`, plus `step()`. */
function storeWithClock(inner: Store, truth: TestClock, step: () => number = () => 0): Store {
  return new Proxy(inner, {
    get(target, property) {
      if (property === 'storeTime') return async () => truth.now() + step();
      const value = Reflect.get(target, property) as unknown;
      if (property === 'poll') return async (...args: Parameters<Store['poll']>) => ({ ...(await target.poll(...args)), storeNow: truth.now() + step() });
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

interface Started {
  readonly task: string;
  readonly scheduledFor: number;
  readonly at: number;
}

/** Three replicas, skewed +20 s, +5 s and −15 s, with a lease of 20 s. */
async function skewedCluster(store: Store, truth: TestClock, skews: readonly number[], leaseMs: number) {
  const started: Started[] = [];
  const offsets: number[] = [];
  const schedulers = skews.map((skew, i) => {
    const scheduler = createScheduler({ store, clock: skewed(truth, skew), storeClock: true, instance: `r${i}`, lease: leaseMs, pollInterval: '1s' });
    const record = (ctx: { task: string; scheduledFor: Date }) => void started.push({ task: ctx.task, scheduledFor: ctx.scheduledFor.getTime(), at: truth.now() });
    scheduler.add({ name: 'every-second', schedule: { every: '1s' }, handler: async (ctx) => { record(ctx); await truth.sleep(300); } });
    // Runs for longer than the lease: only renewals judged on one clock keep it alive.
    scheduler.add({ name: 'long', schedule: { every: '1m' }, handler: async (ctx) => { record(ctx); await truth.sleep(leaseMs * 2); } });
    return scheduler;
  });
  for (const s of schedulers) {
    await s.start();
    offsets.push(s.clockOffsetMs);
  }
  return { schedulers, started, offsets };
}

/** No early start, no interrupted or skipped record, and the 1 s task's ticks from its first on, each once, none missing. */
function assertNoSkewDamage(runs: readonly RunRecord[], started: readonly Started[], minTicks: number): void {
  const early = started.filter((s) => s.at < s.scheduledFor);
  assert.deepEqual(early, [], 'no handler started before its tick (by the store clock)');
  const bad = runs.filter((r) => r.status === 'interrupted' || r.status === 'skipped');
  assert.deepEqual(bad.map((r) => [r.task, r.status, r.skipReason, r.instance]), [], 'no false interrupt, no false missed or overlap record');
  const ticks = runs.filter((r) => r.task === 'every-second').map((r) => r.scheduledFor.getTime()).sort((a, b) => a - b);
  assert.ok(ticks.length >= minTicks, `${ticks.length} ticks ran`);
  assert.deepEqual(ticks.map((t) => t - (ticks[0] ?? 0)), ticks.map((_, i) => i * 1000), 'every tick once, none missing');
}

describe('replicas with skewed clocks', () => {
  it('run on the store clock: no early run, no false interrupt, no false missed (virtual time)', async () => {
    const truth = createTestClock({ settleTurns: 3 });
    const store = storeWithClock(memoryStore(), truth);
    const { schedulers, started, offsets } = await skewedCluster(store, truth, [20_000, 5_000, -15_000], 20_000);
    assert.deepEqual(offsets, [-20_000, -5_000, 15_000], 'each replica measured its offset to the store clock');
    await truth.advance(3 * 60_000);
    const runs = await runsOf(schedulers[0]!);
    for (const s of schedulers) await s.stop({ timeout: 0 });
    assertNoSkewDamage(runs.filter((r) => r.scheduledFor.getTime() < T0 + 2 * 60_000), started, 120);
    assert.ok(runs.some((r) => r.task === 'long' && r.status === 'succeeded'), 'a run longer than the lease succeeded');
  });

  it('a step of the host clock moves nothing; a step of the store clock is one jump (virtual time)', async () => {
    const truth = createTestClock({ settleTurns: 3 });
    let hostSkew = 7_000;
    let storeStep = 0;
    const store = storeWithClock(memoryStore(), truth, () => storeStep);
    const scheduler = createScheduler({ store, clock: skewed(truth, () => hostSkew), storeClock: true, instance: 'only', pollInterval: '1s' });
    const offsets: { offsetMs: number; skewed: boolean }[] = [];
    const jumps: number[] = [];
    scheduler.on('clock:offset', (e) => offsets.push(e));
    scheduler.on('clock:jump', (e) => jumps.push(e.deltaMs));
    scheduler.add({ name: 'x', schedule: { every: '10s' }, handler: () => {} });
    await scheduler.start();
    assert.deepEqual(offsets, [{ offsetMs: -7_000, skewed: true }], 'a skewed host is reported once');
    const api = createAdminApi({ scheduler, dashboard: false, processMetrics: false });
    const info = (await (await api.fetch(new Request('http://localhost/api/info'))).json()) as { clockOffsetMs: number; now: string };
    assert.deepEqual([info.clockOffsetMs, Date.parse(info.now)], [-7_000, truth.now()], '/api/info: the offset, and the store clock as now');
    assert.match(await (await api.fetch(new Request('http://localhost/metrics'))).text(), /^caretaker_clock_offset_seconds\{[^}]*\} -7$/m);
    api.close();
    hostSkew = 3_600_000; // NTP, or an operator, steps this host's clock an hour ahead
    await truth.advance(30_000);
    assert.equal(scheduler.now(), truth.now(), 'the schedule still follows the store clock');
    assert.deepEqual(jumps, []);
    storeStep = 60_000; // the database host's clock steps a minute ahead
    await truth.advance(5_000);
    assert.equal(scheduler.now(), truth.now() + 60_000);
    assert.deepEqual(jumps.map((d) => Math.round(d / 1000)), [60], 'noticed once, as a forward jump');
    const runs = await runsOf(scheduler, 'x');
    await scheduler.stop();
    assert.deepEqual(runs.filter((r) => r.status !== 'succeeded').map((r) => [r.status, r.skipReason, r.skippedTicks]), [['skipped', 'missed', 5]], 'the minute the store clock skipped is one missed record');
  });
});

const pgSkip = await postgresSkip();

describe('replicas with skewed clocks on PostgreSQL', { skip: pgSkip }, () => {
  let database: Awaited<ReturnType<typeof testDatabase>>;
  before(async () => {
    database = await testDatabase();
  });
  after(async () => database?.drop());

  it('run on the database clock: real replicas 20 s ahead and 15 s behind neither run early nor reap each other', async () => {
    const schedulers = [20_000, -15_000, 0].map((skew, i) =>
      createScheduler({ store: postgresStore({ url: database.url, schema: 'skew' }), clock: skewed(systemClock, skew), storeClock: true, instance: `r${i}`, lease: '20s', pollInterval: '300ms' }),
    );
    const started: Started[] = [];
    const dbNow = () => schedulers[2]!.now();
    for (const s of schedulers) {
      s.add({ name: 'every-second', schedule: { every: '1s' }, handler: (ctx) => void started.push({ task: ctx.task, scheduledFor: ctx.scheduledFor.getTime(), at: dbNow() }) });
      // Longer than a poll interval: a replica judging by its own clock (20 s ahead) would reap it.
      s.add({ name: 'long', schedule: { every: '1h' }, handler: () => new Promise((resolve) => setTimeout(resolve, 1_500)) });
    }
    try {
      for (const s of schedulers) await s.start();
      const [ahead, behind] = schedulers.map((s) => s.clockOffsetMs);
      assert.ok(Math.abs((ahead ?? 0) + 20_000) < 100, `offset of the replica 20 s ahead: ${ahead} ms`);
      assert.ok(Math.abs((behind ?? 0) - 15_000) < 100, `offset of the replica 15 s behind: ${behind} ms`);
      await new Promise((resolve) => setTimeout(resolve, 4_000));
      const to = dbNow() - 1_000;
      const runs = await runsOf(schedulers[0]!);
      // Small tolerance on "early": the offset estimate is good to half a round trip.
      const early = started.filter((s) => s.at < s.scheduledFor - 5);
      assert.deepEqual(early, [], 'no run started before its tick by the database clock');
      assertNoSkewDamage(runs.filter((r) => r.scheduledFor.getTime() <= to), [], 3);
      assert.equal(runs.find((r) => r.task === 'long')?.status, 'succeeded');
    } finally {
      for (const s of schedulers) await s.stop({ timeout: '2s' });
    }
  });
});
