/**
 * Many tasks due at one instant (decision 025), in virtual time on the memory store: the burst
 * is shared among the replicas running the same tasks, a replica that stopped has its share run
 * after the grace, run ends are group-committed, and a run's lease is renewed until its end is
 * written.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memoryStore } from '../../../src/index.ts';
import type { ClaimRequest, FinishOutcome, LeaseRef, RunCompletion, Store } from '../../../src/store/port.ts';
import { harness, runsOf, T0 } from '../../helpers.ts';
import { createTestClock } from '../../../src/testing/index.ts';
import { WHOLE_BURST_CHUNK } from '../../../src/engine/dispatcher.ts';

const TASKS = 100;
const MINUTE = 60_000;

/** The same `count` tasks on a scheduler, every minute; each start is noted as [task, instance, at]. */
function addTasks(h: ReturnType<typeof harness>, starts: [string, string, number][], count = TASKS, workMs = 0): void {
  for (let i = 0; i < count; i++) {
    h.scheduler.add({
      name: `tenant-${i}`,
      schedule: { every: '1m' },
      catchUp: 'none',
      handler: async (ctx) => {
        starts.push([ctx.task, h.scheduler.instance, h.clock.now()]);
        if (workMs > 0) await h.clock.sleep(workMs, ctx.signal);
      },
    });
  }
}

/** The one start of each task (the tests assert there is exactly one). */
const firstStarts = (ran: Map<string, [string, number][]>): [string, number][] => [...ran.values()].map((list) => list[0] as [string, number]);

/** Starts of the tick at `tick`, by task. */
function byTask(starts: readonly [string, string, number][], tick: number, nextTick: number): Map<string, [string, number][]> {
  const out = new Map<string, [string, number][]>();
  for (const [task, instance, at] of starts) {
    if (at < tick || at >= nextTick) continue;
    const list = out.get(task) ?? [];
    list.push([instance, at]);
    out.set(task, list);
  }
  return out;
}

/**
 * A store whose finishMany and renewLeases calls are recorded; ends can be held back until
 * released, and each row claimed, renewed or ended can take `rowMs` of virtual time (a store
 * under load: a row renewed costs as much as a row ended).
 */
function observedStore(inner: Store, slow?: { readonly sleep: (ms: number) => Promise<void>; readonly rowMs: number; readonly claimRowMs?: number; readonly finishRowMs?: number }) {
  const finishBatches: number[] = [];
  const renewBatches: number[] = [];
  const renewLeaseMs: number[] = [];
  let gate: Promise<void> | null = null;
  let open: () => void = () => {};
  const overrides: Partial<Store> = {
    finishMany: async (completions: readonly RunCompletion[], now: number): Promise<FinishOutcome[]> => {
      finishBatches.push(completions.length);
      if (gate !== null) await gate;
      const ms = (slow?.finishRowMs ?? slow?.rowMs ?? 0) * completions.length;
      if (slow !== undefined) await slow.sleep(ms);
      return inner.finishMany(completions, now + ms);
    },
    ...(slow === undefined
      ? {}
      : {
          claim: async (requests: readonly ClaimRequest[], now: number) => {
            const ms = (slow.claimRowMs ?? slow.rowMs) * requests.length;
            await slow.sleep(ms);
            return inner.claim(requests, now + ms);
          },
        }),
    renewLeases: async (leases: readonly LeaseRef[], leaseMs: number, now: number) => {
      renewBatches.push(leases.length);
      renewLeaseMs.push(leaseMs);
      if (slow !== undefined) await slow.sleep(slow.rowMs * leases.length);
      return inner.renewLeases(leases, leaseMs, now + (slow?.rowMs ?? 0) * leases.length);
    },
  };
  // A proxy, not a subclass: the store's private fields live on the store itself.
  const store = new Proxy(inner, {
    get: (target, key) => {
      const own = overrides[key as keyof Store];
      if (own !== undefined) return own;
      const value = Reflect.get(target, key) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return {
    store,
    finishBatches,
    renewBatches,
    renewLeaseMs,
    hold() {
      gate = new Promise((resolve) => (open = resolve));
    },
    release() {
      gate = null;
      open();
    },
  };
}

describe('bursts (decision 025)', () => {
  it('a burst is shared: two replicas each run about half of 100 tasks due together, every tick once', async () => {
    const store = memoryStore();
    const a = harness({ store, instance: 'r0', pollInterval: '1s' });
    const b = harness({ clock: a.clock, store, instance: 'r1', pollInterval: '1s' });
    const starts: [string, string, number][] = [];
    addTasks(a, starts);
    addTasks(b, starts);
    await a.scheduler.start();
    await b.scheduler.start();
    // Both have polled (and seen each other) long before the first minute.
    await a.clock.advance(MINUTE + 10_000);
    const tick = T0 + MINUTE;
    const ran = byTask(starts, tick, tick + MINUTE);
    assert.equal(ran.size, TASKS, 'every task ran at the minute');
    for (const [task, list] of ran) assert.equal(list.length, 1, `${task} ran ${list.length} times`);
    const r0 = firstStarts(ran).filter(([instance]) => instance === 'r0').length;
    assert.ok(r0 >= 30 && r0 <= 70, `r0 ran ${r0} of ${TASKS}: the burst was not shared`);
    assert.ok(firstStarts(ran).every(([, at]) => at === tick), 'each owner starts its share at the instant');
    const runs = (await runsOf(a.scheduler)).filter((r) => r.scheduledFor.getTime() === tick);
    assert.equal(runs.length, TASKS);
    assert.ok(runs.every((r) => r.status === 'succeeded'));
    await a.scheduler.stop();
    await b.scheduler.stop();
  });

  it('a peer that stopped before the burst: its share runs on the other after the grace, once', async () => {
    const store = memoryStore();
    const a = harness({ store, instance: 'r0', pollInterval: '5s' });
    const b = harness({ clock: a.clock, store, instance: 'r1', pollInterval: '5s' });
    const starts: [string, string, number][] = [];
    addTasks(a, starts);
    addTasks(b, starts);
    await a.scheduler.start();
    await b.scheduler.start();
    await a.clock.advance(MINUTE - 3_000);
    // r1 goes away between r0's last poll and the burst: r0 still counts it as a peer.
    await b.scheduler.stop();
    await a.clock.advance(15_000);
    const tick = T0 + MINUTE;
    const ran = byTask(starts, tick, tick + MINUTE);
    assert.equal(ran.size, TASKS, 'no tick lost to the peer that left');
    for (const [task, list] of ran) assert.equal(list.length, 1, `${task} ran ${list.length} times`);
    const late = firstStarts(ran).filter(([, at]) => at > tick);
    assert.ok(late.length >= 30 && late.length <= 70, `${late.length} ran late: the share of r1 should`);
    for (const [instance, at] of late) {
      assert.equal(instance, 'r0');
      assert.ok(at - tick >= 1_000 && at - tick <= 2_000, `r1's share started ${at - tick} ms late: after the grace, soon after`);
    }
    await a.scheduler.stop();
  });

  it('while the peers have not settled (one just joined), nobody leaves a task to a replica that does not know it owns it', async () => {
    const store = memoryStore();
    const a = harness({ store, instance: 'r0', pollInterval: '5s' });
    const b = harness({ clock: a.clock, store, instance: 'r1', pollInterval: '5s' });
    const c = harness({ clock: a.clock, store, instance: 'r2', pollInterval: '5s' });
    const starts: [string, string, number][] = [];
    const at = T0 + 58_000;
    for (const h of [a, b, c]) {
      for (let i = 0; i < TASKS; i++) {
        h.scheduler.add({
          name: `tenant-${i}`,
          schedule: { every: '1h', anchor: new Date(at) },
          handler: (ctx) => void starts.push([ctx.task, h.scheduler.instance, h.clock.now()]),
        });
      }
    }
    // r0 polls at 0, 5, … 55 s; r1 at 1, 6, … 56 s; r2 joins at 55.5 s. At the burst r0 still
    // sees two peers, r1 and r2 see three: with a task's owner computed over different lists,
    // some would be left by everyone to someone else, and wait for the grace.
    await a.scheduler.start();
    await a.clock.advance(1_000);
    await b.scheduler.start();
    await a.clock.advance(54_500);
    await c.scheduler.start();
    await a.clock.advance(10_000);
    const ran = byTask(starts, at, at + 3_600_000);
    assert.equal(ran.size, TASKS);
    for (const [task, list] of ran) assert.equal(list.length, 1, `${task} ran ${list.length} times`);
    const late = firstStarts(ran).filter(([, t]) => t !== at);
    assert.deepEqual(late, [], 'every tick started at its instant');
    for (const h of [a, b, c]) await h.scheduler.stop();
  });

  it('a burst before the peers settle is claimed whole by every replica, in chunks of at most 1,000, each replica\'s own share first', async () => {
    const inner = memoryStore();
    const claims: { instance: string; size: number }[] = [];
    // Every claim call, by whom and how large: no statement may lock the whole burst.
    const observed = (instance: string): Store =>
      new Proxy(inner, {
        get: (target, key) => {
          if (key === 'claim') {
            // A claim takes time by its size (0.1 ms a row), so the replicas' claims overlap as a store's do.
            return async (requests: readonly ClaimRequest[], now: number) => {
              if (requests.length >= 32) claims.push({ instance, size: requests.length });
              await clock.sleep(requests.length / 10);
              return inner.claim(requests, now + requests.length / 10);
            };
          }
          const value = Reflect.get(target, key) as unknown;
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      });
    const count = 2 * WHOLE_BURST_CHUNK + WHOLE_BURST_CHUNK / 2;
    const clock = createTestClock({ start: new Date(T0) });
    const replicas = ['r0', 'r1', 'r2', 'r3'].map((instance) => harness({ clock, store: observed(instance), instance, pollInterval: '5s' }));
    const first = replicas[0] as ReturnType<typeof harness>;
    const starts: [string, string, number][] = [];
    // Due 8 s after the four start together: each has seen the others since its 5 s poll, and
    // the list settles only after two poll intervals without a change.
    const at = T0 + 8_000;
    for (const h of replicas) {
      for (let i = 0; i < count; i++) {
        h.scheduler.add({ name: `tenant-${i}`, schedule: { every: '1h', anchor: new Date(at) }, handler: (ctx) => void starts.push([ctx.task, h.scheduler.instance, h.clock.now()]) });
      }
    }
    for (const h of replicas) await h.scheduler.start();
    await first.clock.advance(12_000);
    const ran = byTask(starts, at, at + 3_600_000);
    assert.equal(ran.size, count, 'every task ran');
    for (const [task, list] of ran) assert.equal(list.length, 1, `${task} ran ${list.length} times`);
    // A virtual clock claims nothing ahead: every claim goes out at the instant, and each replica's
    // last chunk waits for its earlier ones (4 × 250 ms of claims, overlapping).
    assert.ok(firstStarts(ran).every(([, t]) => t >= at && t <= at + 1_500), 'every tick started soon after its instant');
    const burstClaims = claims.filter((c) => c.size > 100);
    assert.ok(burstClaims.length > 0);
    assert.ok(burstClaims.every((c) => c.size <= WHOLE_BURST_CHUNK), `claim sizes: ${burstClaims.map((c) => c.size).join(', ')}`);
    for (const h of replicas) {
      const share = firstStarts(ran).filter(([instance]) => instance === h.scheduler.instance).length;
      assert.ok(share >= count * 0.15, `${h.scheduler.instance} ran ${share} of ${count}: its own share was not claimed first`);
    }
    for (const h of replicas) await h.scheduler.stop();
  });

  it('ends are group-committed: 200 ends in a few writes, a lone end written at once, alone', async () => {
    const observed = observedStore(memoryStore());
    const h = harness({ store: observed.store, instance: 'r0' });
    const starts: [string, string, number][] = [];
    addTasks(h, starts);
    h.scheduler.add({ name: 'lone', schedule: { every: '1m', anchor: new Date(T0 + 30_000) }, handler: () => {} });
    await h.scheduler.start();
    await h.clock.advance(MINUTE + 1_000);
    // Two ticks of the 100 tasks (at start and at the minute), and the lone task's at 30 s.
    assert.equal(h.finished.length, 2 * TASKS + 1);
    assert.equal(
      observed.finishBatches.reduce((x, y) => x + y, 0),
      h.finished.length,
      'every end written once',
    );
    assert.ok(observed.finishBatches.length <= 8, `${observed.finishBatches.length} writes (${observed.finishBatches.join(', ')}) for ${h.finished.length} ends`);
    // The lone task's end went alone, in the turn its handler returned.
    const lone = h.finished.filter((r) => r.task === 'lone');
    assert.equal(lone.length, 1);
    assert.equal(lone[0]?.finishedAt?.getTime(), T0 + 30_000);
    assert.ok(observed.finishBatches.includes(1));
    await h.scheduler.stop();
  });

  it('a run whose end waits to be written keeps its lease: the other replica does not reap it, and it is not run again', async () => {
    const inner = memoryStore();
    const observed = observedStore(inner);
    const a = harness({ store: observed.store, instance: 'r0', lease: '3s', pollInterval: '1s' });
    const b = harness({ clock: a.clock, store: inner, instance: 'r1', lease: '3s', pollInterval: '1s' });
    let calls = 0;
    const task = {
      name: 'quick',
      schedule: { every: '1h' },
      retry: { attempts: 3, backoff: '100ms' },
      handler: () => {
        calls++;
      },
    };
    a.scheduler.add(task);
    await a.scheduler.start();
    await a.clock.advance(500);
    b.scheduler.add(task);
    await b.scheduler.start();
    // The first tick (at start) ran on r0; now hold the next end for four leases.
    observed.hold();
    await a.clock.advance(3_600_000 - 500);
    assert.equal(calls, 2);
    await a.clock.advance(12_000);
    assert.ok(observed.renewBatches.length >= 3, 'the lease was renewed while the end waited');
    observed.release();
    await a.clock.advance(2_000);
    const runs = await runsOf(a.scheduler, 'quick');
    assert.deepEqual(
      runs.map((r) => [r.attempt, r.status]),
      [
        [1, 'succeeded'],
        [1, 'succeeded'],
      ],
      'recorded as it ended, never interrupted nor retried',
    );
    assert.equal(calls, 2);
    await a.scheduler.stop();
    await b.scheduler.stop();
  });

  it('a burst whose ends take longer than a lease to write: none is reaped or run again, and no lease is renewed twice (decision 026)', async () => {
    // 3,000 runs due together; every row the store writes takes 2 ms, so the ends take 6 s to
    // write (one write in flight) against a 2 s lease. Renewing every lease every beat, as
    // before, costs as much as the ends: they fell further behind, and leases lapsed.
    const inner = memoryStore();
    const clock = harness({ store: inner }).clock;
    const observed = observedStore(inner, { sleep: (ms) => clock.sleep(ms), rowMs: 2 });
    const h = harness({ clock, store: observed.store, instance: 'r0', lease: '2s', pollInterval: '1s' });
    // Another replica with other tasks polls the same store: it reaps whatever lapses.
    const reaper = harness({ clock, store: inner, instance: 'reaper', lease: '2s', pollInterval: '1s' });
    reaper.scheduler.add({ name: 'other', schedule: { every: '1h' }, handler: () => {} });
    await reaper.scheduler.start();
    const starts: [string, string, number][] = [];
    const count = 3_000;
    for (let i = 0; i < count; i++) {
      h.scheduler.add({
        name: `tenant-${i}`,
        schedule: { every: '1m' },
        catchUp: 'none',
        retry: { attempts: 3, backoff: '100ms' },
        handler: (ctx) => {
          starts.push([ctx.task, ctx.runId, clock.now()]);
        },
      });
    }
    await h.scheduler.start();
    await clock.advance(2 * MINUTE + 30_000);
    const tick = T0 + MINUTE;
    const ran = byTask(starts, tick, tick + MINUTE);
    assert.equal(ran.size, count, 'every task ran at the minute');
    assert.ok([...ran.values()].every((list) => list.length === 1), 'none ran twice');
    const runs = (await runsOf(h.scheduler)).filter((r) => r.scheduledFor.getTime() === tick);
    assert.equal(runs.length, count);
    const statuses = new Map<string, number>();
    for (const r of runs) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    assert.deepEqual([...statuses], [['succeeded', count]], 'none interrupted');
    const renewed = observed.renewBatches.reduce((x, y) => x + y, 0);
    // Three bursts (start, 1 min, 2 min) of 3,000 ends each.
    assert.ok(renewed <= 3 * count, `${renewed} lease renewals for ${3 * count} runs`);
    await h.scheduler.stop();
    await reaper.scheduler.stop();
  });

  it('a long round of ended runs\' renewals does not starve a running handler\'s lease (hostile review of decision 026)', async () => {
    // A 40 s handler runs while 3,000 runs due together end; every row renewed or ended costs
    // 1.5 ms, so a round renewing the ended runs' leases takes seconds, longer than the beats it
    // overlaps.
    const inner = memoryStore();
    const clock = harness({ store: inner }).clock;
    const observed = observedStore(inner, { sleep: (ms) => clock.sleep(ms), rowMs: 1.5, claimRowMs: 0.1 });
    const h = harness({ clock, store: observed.store, instance: 'r0', lease: '3s', pollInterval: '1s' });
    const reaper = harness({ clock, store: inner, instance: 'reaper', lease: '3s', pollInterval: '1s' });
    reaper.scheduler.add({ name: 'other', schedule: { every: '1h' }, handler: () => {} });
    await reaper.scheduler.start();
    let aborted: unknown = null;
    h.scheduler.add({
      name: 'long',
      schedule: { at: new Date(T0 + 5_000) },
      handler: async (ctx) => {
        ctx.signal.addEventListener('abort', () => (aborted = ctx.signal.reason));
        await clock.sleep(40_000, ctx.signal);
      },
    });
    for (let i = 0; i < 3_000; i++) h.scheduler.add({ name: `t${i}`, schedule: { at: new Date(T0 + 10_000) }, handler: () => {} });
    await h.scheduler.start();
    await clock.advance(60_000);
    assert.equal(aborted, null, 'the long handler kept its lease');
    const runs = (await runsOf(h.scheduler)).filter((r) => r.task !== 'other');
    const statuses = new Map<string, number>();
    for (const r of runs) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    assert.deepEqual([...statuses], [['succeeded', 3_001]]);
    await h.scheduler.stop();
    await reaper.scheduler.stop();
  });

  /** 200 runs due together whose ends take 60 ms a row (12 s for all) against a 3 s lease; a peer reaps and retries. */
  async function slowEnds(options: { readonly renewRowMs: number; readonly wallStepAt?: number; readonly wallStepMs?: number; readonly peerRunsThem: boolean }) {
    const inner = memoryStore();
    const clock = harness({ store: inner }).clock;
    const observed = observedStore(inner, { sleep: (ms) => clock.sleep(ms), rowMs: options.renewRowMs, claimRowMs: 0, finishRowMs: 60 });
    const a = harness({ clock, store: observed.store, instance: 'r0', lease: '3s', pollInterval: '1s' });
    const peer = harness({ clock, store: inner, instance: 'r1', lease: '3s', pollInterval: '1s' });
    let calls = 0;
    const task = (i: number) => ({ name: `t${i}`, schedule: { at: new Date(T0 + 10_000) }, retry: { attempts: 3, backoff: '100ms' }, handler: () => void calls++ });
    for (let i = 0; i < 200; i++) a.scheduler.add(task(i));
    // Another task as well, so the two are no peers and the burst stays on r0.
    peer.scheduler.add({ name: 'other', schedule: { every: '1h' }, handler: () => {} });
    if (options.peerRunsThem) for (let i = 0; i < 200; i++) peer.scheduler.add(task(i));
    await peer.scheduler.start();
    await a.scheduler.start();
    if (options.wallStepAt !== undefined) {
      await clock.advance(options.wallStepAt);
      clock.jump(options.wallStepMs ?? 0);
    }
    await clock.advance(120_000);
    const statuses = new Map<string, number>();
    for (const r of (await runsOf(a.scheduler)).filter((x) => x.task !== 'other')) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    await a.scheduler.stop();
    await peer.scheduler.stop();
    return { calls, statuses: [...statuses] };
  }

  it('ends slower than a lease on a healthy store whose renewals are slow too (1.2 s a round): none reaped, none run again (hostile review)', async () => {
    assert.deepEqual(await slowEnds({ renewRowMs: 6, peerRunsThem: true }), { calls: 200, statuses: [['succeeded', 200]] });
  });

  it('the wall clock stepped half a lease ahead while a burst\'s ends wait: none reaped (hostile review)', async () => {
    assert.deepEqual(await slowEnds({ renewRowMs: 0, wallStepAt: 10_500, wallStepMs: 1_500, peerRunsThem: false }), { calls: 200, statuses: [['succeeded', 200]] });
  });

  it('leases of a large burst are renewed in chunks of at most 1,000', async () => {
    const observed = observedStore(memoryStore());
    const h = harness({ store: observed.store, instance: 'r0', lease: '3s' });
    const starts: [string, string, number][] = [];
    addTasks(h, starts, 2_500, 5_000);
    await h.scheduler.start();
    await h.clock.advance(MINUTE + 4_000);
    assert.equal(byTask(starts, T0 + MINUTE, T0 + 2 * MINUTE).size, 2_500);
    assert.ok(observed.renewBatches.length >= 3, `renewals: ${observed.renewBatches.join(', ')}`);
    assert.ok(
      observed.renewBatches.every((n) => n <= 1_000),
      `renewals: ${observed.renewBatches.join(', ')}`,
    );
    await h.clock.advance(5_000);
    const runs = (await runsOf(h.scheduler)).filter((r) => r.scheduledFor.getTime() === T0 + MINUTE);
    assert.equal(runs.length, 2_500);
    assert.ok(runs.every((r) => r.status === 'succeeded'));
    await h.scheduler.stop();
  });
});
