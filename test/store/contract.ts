import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import fc from 'fast-check';
import type { AuditEntry, ClaimOutcome, ClaimRequest, FinalStatus, FinishOutcome, NewNotification, NotificationRecord, RunRecord, RunStats, Store, StoreSignal } from '../../src/index.ts';
import { normaliseStatsQuery, statsOfRuns } from '../../src/store/run-stats.ts';
import { InvalidOptionError } from '../../src/index.ts';
import { instanceAlive } from '../../src/store/port.ts';
import { wellFormed } from '../../src/engine/pause-note.ts';
import { uuidv7 } from '../../src/util/ids.ts';
import { LEASE, NOW, requests, started } from './claim-requests.ts';
import { asStored, awkwardJson, runError, runProgress, trickyString } from './json-arbitraries.ts';

/** A store under test, and how to dispose of it. */
export interface StoreFixture {
  readonly store: Store;
  close(): Promise<void>;
}

let seq = 0;
const request = requests(() => uuidv7(NOW + seq++));

const at = (s: number) => NOW + s * 1000;

/** A poll's pause changes without the overrides and versions they also carry. */
const pauses = (poll: { paused: readonly { task: string; paused: boolean; note: string | null; pausedAt: number | null }[] }) =>
  poll.paused.map(({ task, paused, note, pausedAt }) => ({ task, paused, note, pausedAt }));

/**
 * The behaviour every Store adapter must have. Each test gets a fresh store from `make`.
 */
export function describeStoreContract(name: string, make: () => Promise<StoreFixture>): void {
  describe(`Store contract: ${name}`, () => {
    let fixture: StoreFixture;
    let store: Store;
    beforeEach(async () => {
      fixture = await make();
      store = fixture.store;
      await store.open();
      await store.registerTasks([{ name: 't', scheduleKey: 'every:60000:0:', anchor: NOW, paused: false }], NOW);
    });
    afterEach(async () => {
      await store.close();
      await fixture.close();
    });

    const claim1 = async (over: Partial<ClaimRequest> = {}, now = NOW) => (await store.claim([request(over)], now))[0];
    const finish = (run: RunRecord, now: number, over: Partial<Parameters<Store['finish']>[0]> = {}) =>
      store.finish({ runId: run.id, fencingToken: run.fencingToken ?? 0, status: 'succeeded', startedAt: run.startedAt?.getTime() ?? null, finishedAt: now, output: null, error: null, retryAt: null, progress: null, takeQueued: true, ...over }, now);

    describe('task registration', () => {
      it('stores new tasks, keeps state for the same schedule key, resets it for a new one', async () => {
        const one = async (reg: { name: string; scheduleKey: string; anchor: number | null; paused: boolean }, now: number) => {
          const states = await store.registerTasks([reg], now);
          return new Map(states.flatMap((st) => (st === null ? [] : [[st.name, st] as const])));
        };
        assert.deepEqual(await store.registerTasks([{ name: 'new', scheduleKey: 'k1', anchor: 123, paused: true }], at(10)), [null], 'new tasks come back as null');
        let states = await one({ name: 'new', scheduleKey: 'k1', anchor: 123, paused: true }, at(11));
        assert.deepEqual(
          { ...states.get('new'), lastRun: null },
          { name: 'new', scheduleKey: 'k1', anchor: 123, since: at(10), lastTick: null, paused: true, pauseNote: null, pausedAt: null, lastRun: null, lastSuccess: null },
        );
        await claim1({ task: 'new', slot: `t:${at(20)}`, scheduledFor: at(20) }, at(20));
        states = await one({ name: 'new', scheduleKey: 'k1', anchor: 999, paused: false }, at(30));
        assert.equal(states.get('new')?.anchor, 123, 'the persisted anchor wins');
        assert.equal(states.get('new')?.lastTick, at(20));
        assert.equal(states.get('new')?.since, at(10));
        assert.equal(states.get('new')?.paused, true, 'a paused task stays paused');
        assert.equal(states.get('new')?.lastRun?.status, 'running');
        states = await one({ name: 'new', scheduleKey: 'k2', anchor: 456, paused: false }, at(40));
        assert.equal(states.get('new')?.anchor, 456);
        assert.equal(states.get('new')?.lastTick, null);
        assert.equal(states.get('new')?.since, at(40));
        assert.equal(states.get('new')?.paused, true);
      });

      it('registers many tasks in one call', async () => {
        const names = Array.from({ length: 500 }, (_, i) => `bulk-${i}`);
        const regs = names.map((n, i) => ({ name: n, scheduleKey: 'k', anchor: i, paused: false }));
        assert.ok((await store.registerTasks(regs, NOW)).every((st) => st === null));
        const again = await store.registerTasks(regs, NOW + 1);
        assert.deepEqual(again.map((st) => st?.name), names, 'in the order given');
        assert.deepEqual(again.map((st) => st?.anchor), names.map((_, i) => i));
        assert.ok(again.every((st) => st?.since === NOW));
      });

      it('lists every known task with its state, by name, without registering anything', async () => {
        await store.registerTasks([{ name: 'b', scheduleKey: 'k', anchor: 7, paused: true }], NOW);
        const run = started((await store.claim([request({ task: 'b', slot: `t:${at(1)}`, scheduledFor: at(1), dueAt: at(1) })], at(1)))[0]);
        const tasks = await store.listTasks();
        assert.deepEqual(tasks.map((t) => t.name), ['b', 't']);
        assert.equal(tasks[0]?.paused, true);
        assert.equal(tasks[0]?.anchor, 7);
        assert.equal(tasks[0]?.lastRun?.id, run.id);
        assert.equal(tasks[0]?.lastTick, at(1));
        assert.equal(tasks[1]?.lastRun, null);
        assert.deepEqual((await store.listTasks()).map((t) => t.name), ['b', 't'], 'listing twice changes nothing');
      });
      it('any sequence of batch registrations, pauses and handled ticks reads back as a model says (property)', async () => {
        // The memory store keeps tasks registered together and untouched since as one shared
        // entry until each is changed; every store must answer as if each had a row of its own.
        type Model = { scheduleKey: string; anchor: number | null; since: number; lastTick: number | null; paused: boolean };
        const name = fc.constantFrom('a', 'b', 'c', 'd', 'e');
        const registration = fc.record({ name, scheduleKey: fc.constantFrom('k1', 'k2'), anchor: fc.option(fc.constantFrom(NOW, at(30)), { nil: null }), paused: fc.boolean() });
        const step = fc.oneof(
          // A name may come twice in one batch (a task removed and added again in one turn).
          fc.record({ kind: fc.constant('register' as const), regs: fc.array(registration, { minLength: 1, maxLength: 5 }), asList: fc.boolean() }),
          fc.record({ kind: fc.constant('pause' as const), name, paused: fc.boolean() }),
          fc.record({ kind: fc.constant('tick' as const), name, tick: fc.integer({ min: 1, max: 50 }) }),
        );
        let round = 0;
        await fc.assert(
          fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (steps) => {
            // Names of their own per run: the store outlives the runs of one property.
            const prefix = `p${round++}-`;
            const model = new Map<string, Model>();
            const claimed = new Set<string>();
            const state = (task: string) => {
              const m = model.get(task) as Model;
              return { name: task, scheduleKey: m.scheduleKey, anchor: m.anchor, since: m.since, lastTick: m.lastTick, paused: m.paused };
            };
            for (const [i, s] of steps.entries()) {
              const now = at(100 + i);
              if (s.kind === 'register') {
                const regs = s.regs.map((r) => ({ ...r, name: prefix + r.name }));
                const list = { length: regs.length, name: (k: number) => regs[k]!.name, scheduleKey: (k: number) => regs[k]!.scheduleKey, anchor: (k: number) => regs[k]!.anchor, paused: (k: number) => regs[k]!.paused };
                const answers = s.asList && store.registerTaskList !== undefined ? await store.registerTaskList(list, now) : await store.registerTasks(regs, now);
                const expected = regs.map((r) => {
                  const m = model.get(r.name);
                  if (m === undefined) {
                    model.set(r.name, { scheduleKey: r.scheduleKey, anchor: r.anchor, since: now, lastTick: null, paused: r.paused });
                    return null;
                  }
                  if (m.scheduleKey !== r.scheduleKey) Object.assign(m, { scheduleKey: r.scheduleKey, anchor: r.anchor, since: now, lastTick: null });
                  return state(r.name);
                });
                assert.deepEqual(
                  answers.map((a) => (a === null ? null : { name: a.name, scheduleKey: a.scheduleKey, anchor: a.anchor, since: a.since, lastTick: a.lastTick, paused: a.paused })),
                  expected,
                );
              } else if (!model.has(prefix + s.name)) continue;
              else if (s.kind === 'pause') {
                assert.equal(await store.setPaused(prefix + s.name, s.paused, now), true);
                (model.get(prefix + s.name) as Model).paused = s.paused;
              } else {
                const tick = at(s.tick);
                const [outcome] = await store.claim([request({ task: prefix + s.name, slot: `t:${tick}`, scheduledFor: tick, dueAt: tick, skip: 'paused' })], now);
                // A slot is claimed once for good, a re-keyed schedule too: a second claim is taken and moves nothing.
                const slot = `${s.name}@${tick}`;
                assert.equal(outcome?.kind, claimed.has(slot) ? 'taken' : 'skipped');
                if (claimed.has(slot)) continue;
                claimed.add(slot);
                const m = model.get(prefix + s.name) as Model;
                m.lastTick = m.lastTick === null ? tick : Math.max(m.lastTick, tick);
              }
            }
            const listed = (await store.listTasks()).filter((t) => t.name.startsWith(prefix));
            assert.deepEqual(
              listed.map((t) => ({ name: t.name, scheduleKey: t.scheduleKey, anchor: t.anchor, since: t.since, lastTick: t.lastTick, paused: t.paused })),
              [...model.keys()].sort().map(state),
            );
          }),
          { numRuns: 100 },
        );
      });
    });

    describe('claims', () => {
      it('one claim per (task, slot, attempt) wins; the rest are taken', async () => {
        const outcomes = await store.claim([request({ runId: uuidv7() }), request({ runId: uuidv7(), instance: 'i2' })], NOW);
        const run = started(outcomes[0]);
        assert.equal(outcomes[1]?.kind, 'taken');
        assert.equal((await claim1())?.kind, 'taken');
        assert.equal(run.status, 'running');
        assert.equal(run.instance, 'i1');
        assert.equal(run.startedAt?.getTime(), NOW);
        assert.equal(run.leaseExpiresAt?.getTime(), NOW + LEASE);
        assert.equal(run.latenessMs, 0);
        assert.equal(run.attempt, 1);
        assert.equal((await store.listRuns({})).runs.length, 1);
      });

      it('records skipped ticks with their reason, once, and they advance the cursor', async () => {
        const outcome = await claim1({ skip: 'paused', slot: `t:${at(60)}`, scheduledFor: at(60) });
        assert.equal(outcome?.kind, 'skipped');
        const run = (outcome as Extract<ClaimOutcome, { kind: 'skipped' }>).run;
        assert.deepEqual([run.status, run.skipReason, run.skippedTicks, run.startedAt], ['skipped', 'paused', 1, null]);
        assert.equal((await claim1({ slot: `t:${at(60)}`, scheduledFor: at(60) }))?.kind, 'taken');
        const summary = await claim1({ skip: 'missed', skippedTicks: 500, slot: `t:${at(120)}`, scheduledFor: at(120) });
        assert.equal((summary as Extract<ClaimOutcome, { kind: 'skipped' }>).run.skippedTicks, 500);
        const [state] = await store.registerTasks([{ name: 't', scheduleKey: 'every:60000:0:', anchor: null, paused: false }], at(200));
        assert.equal(state?.lastTick, at(120));
      });

      it('a skip record standing for several ticks moves the cursor past the newest of them', async () => {
        const outcome = await claim1({ slot: `t:${at(60)}`, scheduledFor: at(60), skip: 'missed', skippedTicks: 5, throughTick: at(300) }, at(400));
        assert.equal(outcome?.kind, 'skipped');
        assert.equal((outcome as Extract<ClaimOutcome, { kind: 'skipped' }>).run.skippedTicks, 5);
        const [state] = await store.registerTasks([{ name: 't', scheduleKey: 'every:60000:0:', anchor: NOW, paused: false }], at(401));
        assert.equal(state?.lastTick, at(300));
        assert.equal((await claim1({ slot: `t:${at(60)}`, scheduledFor: at(60), skip: 'missed', skippedTicks: 6, throughTick: at(360) }, at(402)))?.kind, 'taken', 'a replica back later from the same outage finds it recorded');
      });

      it('a retry request carries the run it retries; the new run links to it', async () => {
        await store.requestTrigger({ id: 'retry-1', task: 't', requestedAt: at(5), retryOf: { runId: 'orig', scheduledFor: at(1), attempt: 2 } });
        await store.requestTrigger({ id: 'plain-1', task: 't', requestedAt: at(6) });
        const poll = await store.poll({ instance: 'i1', now: at(7), pauseVersion: 0, retryGraceMs: LEASE });
        assert.deepEqual(poll.triggers, [
          { id: 'retry-1', task: 't', requestedAt: at(5), retryOf: { runId: 'orig', scheduledFor: at(1), attempt: 2 } },
          { id: 'plain-1', task: 't', requestedAt: at(6), retryOf: null },
        ]);
        const run = started(await claim1({ runId: 'retry-1', slot: 'm:retry-1', trigger: 'retry', scheduledFor: at(1), dueAt: at(5), attempt: 3, causedBy: 'orig' }, at(7)));
        assert.deepEqual([run.trigger, run.attempt, run.causedBy, run.scheduledFor.getTime()], ['retry', 3, 'orig', at(1)]);
        assert.equal((await store.getRun('retry-1'))?.causedBy, 'orig');
        const after = await store.poll({ instance: 'i1', now: at(8), pauseVersion: 0, retryGraceMs: LEASE });
        assert.deepEqual(after.triggers.map((t) => t.id), ['plain-1'], 'the retry request is consumed by its claim');
      });

      it('a trigger nobody took can be withdrawn; a taken one cannot', async () => {
        await store.requestTrigger({ id: 'w1', task: 't', requestedAt: at(1) });
        await store.requestTrigger({ id: 'w2', task: 't', requestedAt: at(1) });
        started(await claim1({ runId: 'w2', slot: 'm:w2', trigger: 'manual', scheduledFor: at(1), dueAt: at(1) }, at(2)));
        assert.deepEqual([await store.withdrawTrigger('w1'), await store.withdrawTrigger('w1'), await store.withdrawTrigger('w2'), await store.withdrawTrigger('never')], [true, false, false, false]);
        assert.deepEqual((await store.poll({ instance: 'i1', now: at(3), pauseVersion: 0, retryGraceMs: LEASE })).triggers, []);
      });

      it('manual slots do not move the cursor and consume their trigger', async () => {
        await store.requestTrigger({ id: 'trig-1', task: 't', requestedAt: at(5) });
        let poll = await store.poll({ instance: 'i1', now: at(5), pauseVersion: 0, retryGraceMs: LEASE });
        assert.deepEqual(poll.triggers.map((t) => [t.id, t.task, t.requestedAt]), [['trig-1', 't', at(5)]]);
        started(await claim1({ runId: uuidv7(), slot: 'm:trig-1', trigger: 'manual', scheduledFor: at(5), dueAt: at(5) }, at(5)));
        poll = await store.poll({ instance: 'i1', now: at(6), pauseVersion: 0, retryGraceMs: LEASE });
        assert.deepEqual(poll.triggers, []);
        const [state] = await store.registerTasks([{ name: 't', scheduleKey: 'every:60000:0:', anchor: null, paused: false }], at(7));
        assert.equal(state?.lastTick, null);
      });

      it('a claim made ahead of its due instant records the planned start, then the actual one', async () => {
        const ahead = started(await claim1({ slot: `t:${at(10)}`, scheduledFor: at(10), dueAt: at(10), startAt: at(10) }, at(10) - 3));
        assert.equal(ahead.startedAt?.getTime(), at(10), 'planned start, not the claim instant');
        assert.equal(ahead.latenessMs, 0);
        const done = await finish(ahead, at(12), { startedAt: at(10) + 0.25 });
        const rec = (done as Extract<typeof done, { kind: 'recorded' }>).run;
        assert.equal(rec.startedAt?.getTime(), at(10), 'Dates hold whole milliseconds');
        assert.equal(rec.durationMs, at(12) - (at(10) + 0.25));
        const never = started(await claim1({ slot: `t:${at(20)}`, scheduledFor: at(20), startAt: at(20) }, at(20) - 2));
        const stopped = await finish(never, at(20) - 1, { status: 'interrupted', startedAt: null });
        assert.equal((stopped as Extract<typeof stopped, { kind: 'recorded' }>).run.startedAt, null, 'a run stopped before its instant never started');
      });

      it('fencing tokens increase with every claim of a task', async () => {
        const tokens: number[] = [];
        for (let i = 0; i < 5; i++) {
          const run = started(await claim1({ slot: `t:${at(i * 60)}`, scheduledFor: at(i * 60) }, at(i * 60)));
          tokens.push(run.fencingToken ?? -1);
          await finish(run, at(i * 60 + 1));
        }
        assert.deepEqual(tokens, [...tokens].sort((a, b) => a - b));
        assert.equal(new Set(tokens).size, 5);
      });
    });

    describe('overlap', () => {
      it('skip: a claim while a run is live is recorded skipped (overlap)', async () => {
        started(await claim1());
        const second = await claim1({ slot: `t:${at(60)}`, scheduledFor: at(60) }, at(1));
        assert.equal(second?.kind, 'skipped');
        assert.equal((second as Extract<ClaimOutcome, { kind: 'skipped' }>).run.skipReason, 'overlap');
      });

      it('allow: up to maxConcurrent live runs', async () => {
        const o = { overlap: 'allow' as const, maxConcurrent: 2 };
        started(await claim1(o));
        started(await claim1({ ...o, slot: `t:${at(60)}`, scheduledFor: at(60) }, at(1)));
        assert.equal((await claim1({ ...o, slot: `t:${at(120)}`, scheduledFor: at(120) }, at(2)))?.kind, 'skipped');
      });

      it('wait: busy while a run is live, nothing recorded', async () => {
        started(await claim1());
        assert.equal((await claim1({ overlap: 'wait', slot: `t:${at(60)}`, scheduledFor: at(60) }, at(1)))?.kind, 'busy');
        assert.equal((await store.listRuns({})).runs.length, 1);
      });

      it('queue: one tick waits and is handed to whoever finishes the run', async () => {
        const first = started(await claim1({ overlap: 'queue' }));
        const queuedReq = request({ overlap: 'queue', slot: `t:${at(60)}`, scheduledFor: at(60) });
        assert.equal((await store.claim([queuedReq], at(1)))[0]?.kind, 'queued');
        assert.equal((await store.claim([queuedReq], at(1)))[0]?.kind, 'taken', 'the same tick queued twice is one');
        assert.equal((await claim1({ overlap: 'queue', slot: `t:${at(120)}`, scheduledFor: at(120) }, at(2)))?.kind, 'skipped');
        const stopping = await finish(started(await claim1({ overlap: 'queue', task: 'u', slot: 't:9', scheduledFor: 9 })), at(2), { takeQueued: false });
        assert.equal((stopping as Extract<typeof stopping, { kind: 'recorded' }>).queued, null, 'a stopping runner leaves queued ticks alone');
        const done = await finish(first, at(3));
        assert.equal(done.kind, 'recorded');
        const queued = (done as Extract<typeof done, { kind: 'recorded' }>).queued;
        assert.deepEqual([queued?.slot, queued?.runId, queued?.scheduledFor], [`t:${at(60)}`, queuedReq.runId, at(60)]);
        started(await claim1({ runId: queuedReq.runId, overlap: 'queue', slot: `t:${at(60)}`, scheduledFor: at(60) }, at(3)));
      });

      it('replace: starts and names the runs to cancel; their owner sees the cancel request', async () => {
        const first = started(await claim1({ overlap: 'replace', instance: 'owner' }));
        const outcome = await claim1({ overlap: 'replace', slot: `t:${at(60)}`, scheduledFor: at(60) }, at(1));
        assert.equal(outcome?.kind, 'started');
        assert.deepEqual((outcome as Extract<ClaimOutcome, { kind: 'started' }>).replaced, [first.id]);
        const poll = await store.poll({ instance: 'owner', now: at(2), pauseVersion: 0, retryGraceMs: LEASE });
        assert.deepEqual(poll.cancels, [first.id]);
        const other = await store.poll({ instance: 'i1', now: at(2), pauseVersion: 0, retryGraceMs: LEASE });
        assert.deepEqual(other.cancels, []);
      });

      it('a run whose lease expired no longer blocks the task, and cannot finish after a newer claim', async () => {
        const old = started(await claim1());
        const fresh = started(await claim1({ slot: `t:${at(60)}`, scheduledFor: at(60) }, NOW + LEASE + 1));
        assert.ok((fresh.fencingToken ?? 0) > (old.fencingToken ?? 0));
        assert.equal((await finish(old, NOW + LEASE + 2)).kind, 'fenced');
        assert.equal((await store.getRun(old.id))?.status, 'running', 'nothing written by the fenced writer');
      });
    });

    describe('leases and outcomes', () => {
      it('finish records the outcome once; a stale token or a second finish is fenced', async () => {
        const run = started(await claim1());
        assert.equal((await finish(run, at(2), { fencingToken: (run.fencingToken ?? 0) + 1 })).kind, 'fenced');
        const error = { message: 'boom', name: 'Error', code: 'E1', stack: 'Error: boom\n  at x' };
        const done = await finish(run, at(2), { status: 'failed', error, output: { partial: [1, 'two', null, { deep: true }] }, retryAt: at(12), progress: { fraction: 0.5, message: 'half' } });
        assert.equal(done.kind, 'recorded');
        const rec = (done as Extract<typeof done, { kind: 'recorded' }>).run;
        assert.deepEqual([rec.status, rec.durationMs, rec.finishedAt?.getTime(), rec.retryAt?.getTime(), rec.leaseExpiresAt], ['failed', 2000, at(2), at(12), null]);
        assert.deepEqual(rec.error, error);
        assert.deepEqual(rec.output, { partial: [1, 'two', null, { deep: true }] });
        assert.deepEqual(rec.progress, { fraction: 0.5, message: 'half' });
        assert.deepEqual(await store.getRun(run.id), rec);
        assert.equal((await finish(run, at(3))).kind, 'fenced');
      });

      it('the next claim carries the last success', async () => {
        const run = started(await claim1());
        await finish(run, at(1), { output: { watermark: 42 } });
        const next = await claim1({ slot: `t:${at(60)}`, scheduledFor: at(60) }, at(60));
        const last = (next as Extract<ClaimOutcome, { kind: 'started' }>).lastSuccess;
        assert.deepEqual([last?.runId, last?.output, last?.scheduledFor.getTime(), last?.finishedAt.getTime()], [run.id, { watermark: 42 }, NOW, at(1)]);
      });

      it('renewLeases extends live leases and reports lost ones', async () => {
        const run = started(await claim1());
        const ref = { runId: run.id, fencingToken: run.fencingToken ?? 0 };
        assert.deepEqual(await store.renewLeases([ref], LEASE, at(10)), []);
        assert.equal((await store.getRun(run.id))?.leaseExpiresAt?.getTime(), at(10) + LEASE);
        assert.deepEqual(await store.renewLeases([ref, { runId: 'nope', fencingToken: 1 }], LEASE, at(10) + LEASE + 1), [run.id, 'nope']);
      });

      it('poll reaps expired leases as interrupted, exactly once', async () => {
        const run = started(await claim1({ instance: 'dead' }));
        let poll = await store.poll({ instance: 'i2', now: NOW + LEASE - 1, pauseVersion: 0, retryGraceMs: LEASE });
        assert.deepEqual(poll.interrupted, []);
        poll = await store.poll({ instance: 'i2', now: NOW + LEASE + 1, pauseVersion: 0, retryGraceMs: LEASE });
        assert.deepEqual(poll.interrupted.map((r) => [r.id, r.status, r.error?.code, r.finishedAt?.getTime()]), [[run.id, 'interrupted', 'ERR_LEASE_LOST', NOW + LEASE]]);
        poll = await store.poll({ instance: 'i3', now: NOW + LEASE + 2, pauseVersion: 0, retryGraceMs: LEASE });
        assert.deepEqual(poll.interrupted, []);
        assert.equal((await finish(run, NOW + LEASE + 3)).kind, 'fenced');
      });

      it('poll spares the lapsed runs its caller still holds, so their owner records them after an outage', async () => {
        const run = started(await claim1({ instance: 'owner' }));
        const after = NOW + LEASE + 1;
        let poll = await store.poll({ instance: 'owner', now: after, pauseVersion: 0, retryGraceMs: LEASE, held: [run.id] });
        assert.deepEqual(poll.interrupted, []);
        assert.equal((await store.getRun(run.id))?.status, 'running');
        // Nobody else claimed the task since, so the late end is still recorded.
        assert.equal((await finish(run, after + 1)).kind, 'recorded');
        assert.equal((await store.getRun(run.id))?.status, 'succeeded');
        // Another instance cannot know the owner is alive: it reaps what it does not hold.
        const other = started(await claim1({ instance: 'owner', slot: 't:1', scheduledFor: 1 }, at(100)));
        poll = await store.poll({ instance: 'i2', now: at(100) + LEASE + 1, pauseVersion: 0, retryGraceMs: LEASE, held: [run.id] });
        assert.deepEqual(poll.interrupted.map((r) => r.id), [other.id]);
      });

      it('due retries are offered after the grace period until the next attempt is claimed', async () => {
        const run = started(await claim1());
        await finish(run, at(1), { status: 'failed', retryAt: at(5) });
        let poll = await store.poll({ instance: 'i2', now: at(5) + LEASE - 1, pauseVersion: 0, retryGraceMs: LEASE });
        assert.deepEqual(poll.retries, []);
        poll = await store.poll({ instance: 'i2', now: at(5) + LEASE, pauseVersion: 0, retryGraceMs: LEASE });
        assert.deepEqual(poll.retries.map((r) => [r.task, r.slot, r.attempt, r.scheduledFor, r.previousRunId]), [['t', `t:${NOW}`, 2, NOW, run.id]]);
        started(await claim1({ attempt: 2, trigger: 'retry' }, at(40)));
        poll = await store.poll({ instance: 'i2', now: at(41), pauseVersion: 0, retryGraceMs: LEASE });
        assert.deepEqual(poll.retries, []);
        // A retry decided later (after a lease-expiry interrupt) is set with scheduleRetry.
        const other = started(await claim1({ task: 'u', slot: 't:1', scheduledFor: 1 }, at(50)));
        await finish(other, at(51), { status: 'interrupted' });
        await store.scheduleRetry(other.id, at(52));
        poll = await store.poll({ instance: 'i2', now: at(52) + LEASE, pauseVersion: 0, retryGraceMs: LEASE });
        assert.deepEqual(poll.retries.map((r) => [r.task, r.attempt]), [['u', 2]]);
      });

      it('a queued tick whose runner disappeared is handed over by poll', async () => {
        started(await claim1({ overlap: 'queue', instance: 'dead' }));
        assert.equal((await claim1({ overlap: 'queue', slot: `t:${at(60)}`, scheduledFor: at(60) }, at(1)))?.kind, 'queued');
        const poll = await store.poll({ instance: 'i2', now: NOW + LEASE + 1, pauseVersion: 0, retryGraceMs: LEASE });
        assert.deepEqual(poll.queued.map((q) => q.slot), [`t:${at(60)}`]);
      });

      it('stores progress of a held run only', async () => {
        const run = started(await claim1());
        await store.recordProgress({ runId: run.id, fencingToken: run.fencingToken ?? 0 }, { fraction: 0.25, message: 'a quarter' }, at(1));
        await store.recordProgress({ runId: run.id, fencingToken: 999 }, { fraction: 0.9, message: 'stale' }, at(2));
        assert.deepEqual((await store.getRun(run.id))?.progress, { fraction: 0.25, message: 'a quarter' });
      });
    });

    describe('instances', () => {
      it('a poll is a heartbeat: the instance, its tasks (sent when they change), seen, retired, restarted, pruned', async () => {
        const poll = (instance: string, now: number, tasks: string[] | null, pollIntervalMs = 1_000, tasksToken = `${instance}-process`) =>
          store.poll({ instance, now, pauseVersion: 0, retryGraceMs: LEASE, beat: { pollIntervalMs, tasks, tasksToken, tasksDigest: tasks?.join(',') ?? '' } });
        await poll('b', at(1), ['t', 'u']);
        await poll('a', at(2), ['x'], 5_000);
        await poll('b', at(3), null);
        await store.poll({ instance: 'reader', now: at(4), pauseVersion: 0, retryGraceMs: LEASE });
        let list = await store.listInstances();
        const view = (l: typeof list) => l.map((i) => [i.instance, i.startedAt.getTime(), i.seenAt.getTime(), i.pollIntervalMs, i.tasks, i.stoppedAt?.getTime() ?? null]);
        assert.deepEqual(view(list), [
          ['a', at(2), at(2), 5_000, ['x'], null],
          ['b', at(1), at(3), 1_000, ['t', 'u'], null],
        ], 'a poll without a beat records nothing; a beat without tasks keeps them');
        assert.deepEqual(list.map((i) => instanceAlive(i, at(5))), [true, true]);
        assert.deepEqual(list.map((i) => instanceAlive(i, at(7))), [true, false], 'gone after three poll intervals unseen');
        await store.retireInstance('a', at(8));
        await store.retireInstance('nobody', at(8));
        list = await store.listInstances();
        assert.equal(list[0]?.stoppedAt?.getTime(), at(8));
        assert.equal(instanceAlive(list[0]!, at(8)), false, 'a stopped instance is not alive');
        await poll('a', at(9), ['y']);
        assert.deepEqual(view(await store.listInstances()).slice(0, 1), [['a', at(9), at(9), 1_000, ['y'], null]], 'back under the same name: started anew');
        // Two processes under one name: a beat without tasks learns the stored list is another's.
        assert.equal((await poll('a', at(10), null)).tasksCurrent, true);
        assert.equal((await poll('a', at(10), ['z'], 1_000, 'impostor')).tasksCurrent, true);
        assert.equal((await poll('a', at(11), null)).tasksCurrent, false, 'the list stored is not this process\'s');
        assert.equal((await poll('a', at(12), ['y'])).tasksCurrent, true, 'sent again, it is');
        await store.prune({ maxAgeMs: Infinity, maxPerTask: 1_000 }, at(3) + 86_400_000 + 1, 100);
        assert.deepEqual((await store.listInstances()).map((i) => i.instance), ['a'], 'unseen for a day: pruned');
      });
    });

    describe('bursts (decision 025)', () => {
      const tasks = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(3, '0')}`);
      const register = (names: readonly string[]) => store.registerTasks(names.map((name) => ({ name, scheduleKey: 'every:60000:0:', anchor: NOW, paused: false })), NOW);
      const end = (run: RunRecord, now: number, over: Partial<Parameters<Store['finish']>[0]> = {}) => ({
        runId: run.id,
        fencingToken: run.fencingToken ?? 0,
        status: 'succeeded' as const,
        startedAt: run.startedAt?.getTime() ?? null,
        finishedAt: now,
        output: null,
        error: null,
        retryAt: null,
        progress: null,
        takeQueued: true,
        ...over,
      });

      it('a burst claims each tick as one-by-one claims would, and returns the records it stored', async () => {
        const names = tasks(40, 'b');
        await register(names);
        // b000 has a live run (skip → overlap), b001 allows two (one live → starts), b002's slot is taken.
        started(await claim1({ task: 'b000', slot: `t:${at(-60)}`, scheduledFor: at(-60) }));
        started(await claim1({ task: 'b001', slot: `t:${at(-60)}`, scheduledFor: at(-60), overlap: 'allow', maxConcurrent: 2 }));
        started(await claim1({ task: 'b002' }));
        const batch = names.map((task) => request({ task, ...(task === 'b001' ? { overlap: 'allow' as const, maxConcurrent: 2 } : {}), startAt: at(1), dueAt: at(1) }));
        // A second tick of one task in the same batch, and a manual run, take the general path.
        batch.push(request({ task: 'b010', slot: `t:${at(60)}`, scheduledFor: at(60) }));
        await store.requestTrigger({ id: 'burst-manual', task: 'b011', requestedAt: NOW });
        batch.push(request({ runId: 'burst-manual', task: 'b011', slot: 'm:burst-manual', trigger: 'manual' }));
        const outcomes = await store.claim(batch, NOW);
        const kinds = outcomes.map((o) => o.kind);
        assert.deepEqual(kinds.slice(0, 3), ['skipped', 'started', 'taken']);
        assert.deepEqual(kinds.slice(3, 40), new Array(37).fill('started'));
        assert.deepEqual(kinds.slice(40), ['skipped', 'skipped'], 'the later tick of b010 and the manual run of b011 find their task running');
        for (const outcome of outcomes) {
          if (outcome.kind !== 'started' && outcome.kind !== 'skipped') continue;
          assert.deepEqual(await store.getRun(outcome.run.id), outcome.run, `the record returned for ${outcome.run.task} is the one stored`);
        }
        const run = started(outcomes[5]);
        assert.deepEqual([run.startedAt?.getTime(), run.leaseExpiresAt?.getTime(), run.skipReason], [at(1), NOW + LEASE, null]);
        const tokens = outcomes.filter((o) => o.kind === 'started').map((o) => (o as Extract<ClaimOutcome, { kind: 'started' }>).run.fencingToken);
        assert.ok(tokens.every((t) => typeof t === 'number' && t >= 1));
        assert.deepEqual((await store.listTasks()).find((t) => t.name === 'b020')?.lastTick, NOW, 'the cursor moved');
      });

      it('replicas claiming one burst at once, in opposite orders: every tick exactly once', async () => {
        const names = tasks(120, 'r');
        await register(names);
        const replica = (instance: string, order: readonly string[]) => store.claim(order.map((task) => request({ task, instance })), NOW);
        const results = await Promise.all([replica('a', names), replica('b', [...names].reverse()), replica('c', names.filter((_, i) => i % 2 === 0))]);
        const winners = new Map<string, number>();
        for (const outcomes of results) for (const o of outcomes) if (o.kind === 'started') winners.set(o.run.task, (winners.get(o.run.task) ?? 0) + 1);
        assert.equal(winners.size, names.length);
        assert.ok([...winners.values()].every((n) => n === 1));
        const stored = await store.listRuns({ limit: 500 });
        assert.equal(stored.runs.filter((r) => r.slot === `t:${NOW}`).length, names.length, 'one row per tick');
      });

      it('finishMany records each end as finish would, in order, in one call', async () => {
        const names = tasks(6, 'f');
        await register(names);
        const runs = (await store.claim(names.map((task) => request({ task, overlap: task === 'f005' ? 'queue' : 'skip' })), NOW)).map(started);
        // f005 queues its next tick; its end hands the tick over to whoever asks.
        assert.equal((await claim1({ task: 'f005', slot: `t:${at(60)}`, scheduledFor: at(60), overlap: 'queue' }, at(1)))?.kind, 'queued');
        const outcomes = await store.finishMany(
          [
            end(runs[0]!, at(2), { output: 'text', status: 'failed', error: { message: 'x', name: 'Error', code: null, stack: null }, retryAt: at(10) }),
            end(runs[1]!, at(2), { fencingToken: (runs[1]!.fencingToken ?? 0) + 7 }),
            end(runs[2]!, at(2), { output: { n: 2 }, progress: { fraction: 1, message: 'done' } }),
            end(runs[5]!, at(2)),
            end(runs[3]!, at(2), { status: 'cancelled' }),
          ],
          at(2),
        );
        assert.deepEqual(outcomes.map((o) => o.kind), ['recorded', 'fenced', 'recorded', 'recorded', 'recorded']);
        for (const o of outcomes) if (o.kind === 'recorded') assert.deepEqual(await store.getRun(o.run.id), o.run);
        const rec = (i: number) => (outcomes[i] as Extract<FinishOutcome, { kind: 'recorded' }>);
        assert.deepEqual([rec(0).run.status, rec(0).run.output, rec(0).run.retryAt?.getTime()], ['failed', 'text', at(10)]);
        assert.deepEqual(rec(2).run.progress, { fraction: 1, message: 'done' });
        assert.equal(rec(3).queued?.slot, `t:${at(60)}`, 'the queued tick went to the end that asked');
        assert.equal(rec(0).queued, null);
        assert.equal((await store.getRun(runs[1]!.id))?.status, 'running', 'a fenced end writes nothing');
        const state = new Map((await store.listTasks()).map((t) => [t.name, t]));
        assert.deepEqual([state.get('f002')?.lastSuccess?.runId, state.get('f000')?.lastSuccess, state.get('f003')?.lastRun?.status], [runs[2]!.id, null, 'cancelled']);
        assert.deepEqual(await store.finishMany([end(runs[2]!, at(3))], at(3)), [{ kind: 'fenced' }], 'a second end is fenced');
        assert.deepEqual(await store.finishMany([], at(3)), []);
      });

      it('finishMany fences a lapsed run once another run of its task started, and records it otherwise', async () => {
        await register(['g0', 'g1']);
        const [a, b] = (await store.claim([request({ task: 'g0' }), request({ task: 'g1' })], NOW)).map(started);
        // Both leases lapse; g0 is claimed again (a newer run), g1 is not.
        started(await claim1({ task: 'g0', slot: `t:${at(60)}`, scheduledFor: at(60) }, NOW + LEASE + 1));
        const outcomes = await store.finishMany([end(a!, NOW + LEASE + 2), end(b!, NOW + LEASE + 2)], NOW + LEASE + 2);
        assert.deepEqual(outcomes.map((o) => o.kind), ['fenced', 'recorded']);
      });

      it('unclaimed names the slots nobody claimed yet, and claims nothing', async () => {
        await register(['u0', 'u1']);
        started(await claim1({ task: 'u0' }));
        const free = await store.unclaimed([
          { task: 'u0', slot: `t:${NOW}`, attempt: 1 },
          { task: 'u0', slot: `t:${NOW}`, attempt: 2 },
          { task: 'u1', slot: `t:${NOW}`, attempt: 1 },
          { task: 'nobody', slot: 'x', attempt: 1 },
          { task: 'u\u00000', slot: `t:${NOW}`, attempt: 1 },
        ]);
        assert.deepEqual(free, [false, true, true, true, true]);
        assert.deepEqual(await store.unclaimed([]), []);
        assert.equal((await claim1({ task: 'u1' }))?.kind, 'started', 'asking claimed nothing');
      });

      it('a renewal never shortens a lease a claim made ahead of its start asked for', async () => {
        const run = started(await claim1({ startAt: at(5), dueAt: at(5), leaseMs: LEASE + 5_000 }));
        assert.equal(run.leaseExpiresAt?.getTime(), NOW + LEASE + 5_000);
        assert.deepEqual(await store.renewLeases([{ runId: run.id, fencingToken: run.fencingToken ?? 0 }], LEASE, at(1)), []);
        assert.equal((await store.getRun(run.id))?.leaseExpiresAt?.getTime(), NOW + LEASE + 5_000);
        await store.renewLeases([{ runId: run.id, fencingToken: run.fencingToken ?? 0 }], LEASE, at(9));
        assert.equal((await store.getRun(run.id))?.leaseExpiresAt?.getTime(), at(9) + LEASE);
      });

      it('peers: live instances that run the same task set, this one included, by name', async () => {
        const beat = (instance: string, now: number, names: string[] | null, digest: string) =>
          store.poll({ instance, now, pauseVersion: 0, retryGraceMs: LEASE, beat: { pollIntervalMs: 1_000, tasks: names, tasksToken: `${instance}:1`, tasksDigest: digest } });
        await beat('p2', at(1), ['x', 'y'], 'd1');
        await beat('p1', at(1), ['x', 'y'], 'd1');
        await beat('q', at(1), ['z'], 'd2');
        assert.deepEqual((await beat('p1', at(2), null, 'ignored when the tasks did not change')).peers, ['p1', 'p2']);
        assert.deepEqual((await beat('q', at(2), null, '')).peers, ['q']);
        await store.retireInstance('p2', at(3));
        assert.deepEqual((await beat('p1', at(3), null, '')).peers, ['p1'], 'a stopped instance is no peer');
        await beat('p2', at(4), ['x', 'y'], 'd1');
        assert.deepEqual((await beat('p1', at(4), null, '')).peers, ['p1', 'p2']);
        assert.deepEqual((await beat('p1', at(8), null, '')).peers, ['p1'], 'unseen for three poll intervals: gone');
        assert.deepEqual((await store.poll({ instance: 'reader', now: at(8), pauseVersion: 0, retryGraceMs: LEASE })).peers ?? [], [], 'a reader has no peers');
      });

      it('any interleaving of burst claims, ends, reaps and clock steps keeps one run per tick and overlap limits (fast-check)', async () => {
        let round = 0;
        const op = fc.oneof(
          fc.record({ kind: fc.constant('claim' as const), replica: fc.integer({ min: 0, max: 2 }), tick: fc.integer({ min: 0, max: 3 }), from: fc.nat(5), count: fc.integer({ min: 1, max: 6 }), reverse: fc.boolean() }),
          fc.record({ kind: fc.constant('end' as const), replica: fc.integer({ min: 0, max: 2 }), take: fc.integer({ min: 1, max: 6 }) }),
          fc.record({ kind: fc.constant('reap' as const), replica: fc.integer({ min: 0, max: 2 }) }),
          fc.record({ kind: fc.constant('renew' as const), replica: fc.integer({ min: 0, max: 2 }) }),
          fc.record({ kind: fc.constant('step' as const), ms: fc.integer({ min: 0, max: 2 * LEASE }) }),
        );
        await fc.assert(
          fc.asyncProperty(fc.array(fc.array(op, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 12 }), async (steps) => {
            const prefix = `p${++round}-`;
            const names = tasks(8, prefix);
            // Even tasks skip overlaps, odd ones allow two at once.
            const limit = (task: string) => (Number(task.slice(-1)) % 2 === 0 ? 1 : 2);
            await register(names);
            let now = NOW;
            const held: RunRecord[][] = [[], [], []];
            // Per task: the highest token of earlier groups, and every token handed out.
            const before = new Map<string, number>();
            const seen = new Map<string, Set<number>>();
            for (const group of steps) {
              const grown = new Map(before);
              // The operations of one group run concurrently, as replicas do.
              await Promise.all(
                group.map(async (o) => {
                  if (o.kind === 'step') {
                    now += o.ms;
                    return;
                  }
                  const mine = held[o.replica]!;
                  if (o.kind === 'claim') {
                    let chosen = names.slice(o.from, o.from + o.count);
                    if (o.reverse) chosen = chosen.reverse();
                    const tick = NOW + o.tick * 60_000;
                    const reqs = chosen.map((task) => request({ task, instance: `r${o.replica}`, scheduledFor: tick, slot: `t:${tick}`, dueAt: tick, overlap: limit(task) === 1 ? 'skip' : 'allow', maxConcurrent: limit(task) }));
                    for (const outcome of await store.claim(reqs, now)) {
                      if (outcome.kind !== 'started') continue;
                      // Claims of one group race (their replies arrive in any order): each token
                      // is above every earlier group's, and none is handed out twice.
                      const token = outcome.run.fencingToken ?? 0;
                      assert.ok(token > (before.get(outcome.run.task) ?? 0), 'fencing tokens only grow');
                      const tokens = seen.get(outcome.run.task) ?? new Set<number>();
                      assert.ok(!tokens.has(token), 'no fencing token is handed out twice');
                      tokens.add(token);
                      seen.set(outcome.run.task, tokens);
                      grown.set(outcome.run.task, Math.max(grown.get(outcome.run.task) ?? 0, token));
                      mine.push(outcome.run);
                    }
                  } else if (o.kind === 'end') {
                    const ending = mine.splice(0, o.take);
                    const outcomes = await store.finishMany(ending.map((r) => end(r, now)), now);
                    outcomes.forEach((outcome, i) => {
                      if (outcome.kind === 'recorded') assert.equal(outcome.run.id, ending[i]?.id);
                    });
                  } else if (o.kind === 'reap') {
                    await store.poll({ instance: `r${o.replica}`, now, pauseVersion: 0, retryGraceMs: LEASE, held: mine.map((r) => r.id) });
                  } else {
                    const lost = new Set(await store.renewLeases(mine.map((r) => ({ runId: r.id, fencingToken: r.fencingToken ?? 0 })), LEASE, now));
                    held[o.replica] = mine.filter((r) => !lost.has(r.id));
                  }
                }),
              );
              for (const [task, token] of grown) before.set(task, token);
              const runs = (await store.listRuns({ limit: 1_000 })).runs.filter((r) => r.task.startsWith(prefix));
              const perSlot = new Map<string, number>();
              for (const r of runs) perSlot.set(`${r.task}|${r.slot}|${r.attempt}`, (perSlot.get(`${r.task}|${r.slot}|${r.attempt}`) ?? 0) + 1);
              assert.ok([...perSlot.values()].every((n) => n === 1), 'one record per (task, slot, attempt)');
              for (const task of names) {
                const live = runs.filter((r) => r.task === task && r.status === 'running' && (r.leaseExpiresAt?.getTime() ?? 0) > now);
                assert.ok(live.length <= limit(task), `${task}: ${live.length} live runs, limit ${limit(task)}`);
              }
            }
          }),
          { numRuns: 25, seed: 20261207 },
        );
      });
    });

    describe('JSON round trip (fast-check)', () => {
      const value = awkwardJson;
      const progress = runProgress;

      it('any output, error and progress message reads back unchanged, on every path that returns it', async () => {
        let n = 0;
        await fc.assert(
          fc.asyncProperty(value, runError, progress, progress, async (...generated) => {
            // As the engine hands them over: plain JSON (fast-check's records have no prototype).
            const [output, error, early, last] = generated.map(asStored);
            // A task of its own per case, so a failing case (and shrinking) leaves no live run behind.
            const task = `json-${++n}`;
            const reg = { name: task, scheduleKey: 'every:60000:0:', anchor: NOW, paused: false };
            await store.registerTasks([reg], NOW);
            const run = started(await claim1({ task }));
            const lease = { runId: run.id, fencingToken: run.fencingToken ?? 0 };
            await store.recordProgress(lease, early, at(1));
            assert.deepEqual((await store.getRun(run.id))?.progress, early, 'progress while running');
            const done = await finish(run, at(1), { output, progress: last });
            assert.equal(done.kind, 'recorded');
            const rec = (done as Extract<typeof done, { kind: 'recorded' }>).run;
            assert.deepEqual([rec.output, rec.progress], [output, last], 'record returned by finish');
            assert.deepEqual((await store.getRun(run.id))?.output, output, 'getRun');
            assert.deepEqual((await store.listRuns({ task, limit: 1 })).runs[0]?.output, output, 'listRuns');
            const state = (await store.listTasks()).find((t) => t.name === task);
            assert.deepEqual([state?.lastRun?.output, state?.lastSuccess?.output], [output, output], 'listTasks');
            const [registered] = await store.registerTasks([reg], at(2));
            assert.deepEqual(registered?.lastSuccess?.output, output, 'registerTasks');
            // The next claim hands the last success to the handler: a string must not be parsed again.
            const outcome = await claim1({ task, slot: `t:${at(60)}`, scheduledFor: at(60) }, at(60));
            const next = started(outcome);
            assert.deepEqual((outcome as Extract<ClaimOutcome, { kind: 'started' }>).lastSuccess?.output, output, 'lastSuccess of the next claim');
            const failed = await finish(next, at(61), { status: 'failed', error });
            assert.deepEqual((failed as Extract<typeof failed, { kind: 'recorded' }>).run.error, error, 'error returned by finish');
            assert.deepEqual((await store.getRun(next.id))?.error, error, 'error from getRun');
          }),
          { numRuns: 60, seed: 20261206 },
        );
      });
    });

    describe('smart scheduling (schema 12)', () => {
      it('a claimed run ends skipped with its reason, and a deferral apart from its lateness, on every path', async () => {
        const run = started(await claim1());
        const done = await store.finishMany(
          [{ runId: run.id, fencingToken: run.fencingToken ?? 0, status: 'skipped', skipReason: 'condition', startedAt: null, finishedAt: at(1), output: null, error: { name: 'Skipped', message: 'disk below 80%', code: null, stack: null }, retryAt: null, progress: null, takeQueued: true, deferredMs: null }],
          at(1),
        );
        const rec = (done[0] as Extract<FinishOutcome, { kind: 'recorded' }>).run;
        assert.deepEqual([rec.status, rec.skipReason, rec.error?.message, rec.deferredMs], ['skipped', 'condition', 'disk below 80%', null]);
        assert.deepEqual(await store.getRun(run.id), rec);
        const next = started(await claim1({ slot: `t:${at(60)}`, scheduledFor: at(60), dueAt: at(60) }, at(60)));
        // Started 40 s after its due instant, 30 of them held for quiet time: 10 s late.
        const held = await finish(next, at(110), { startedAt: at(100), deferredMs: 30_000 });
        const heldRec = (held as Extract<FinishOutcome, { kind: 'recorded' }>).run;
        assert.deepEqual([heldRec.deferredMs, heldRec.latenessMs, heldRec.durationMs], [30_000, 10_000, 10_000]);
        assert.deepEqual(await store.getRun(next.id), heldRec);
        assert.deepEqual((await store.listRuns({ task: 't', limit: 1 })).runs[0], heldRec);
      });

      it('listCompletions gives ends after an instant by end time, in the statuses asked, without backfill runs', async () => {
        if (store.listCompletions === undefined) return;
        await store.requestBackfill({ id: 'bf', task: 't', from: NOW, to: NOW, instants: [NOW], requestedBy: 'ops', requestedAt: NOW });
        const ends: [number, FinalStatus, string][] = [[5, 'failed', 't:1'], [3, 'succeeded', 't:2'], [9, 'succeeded', 't:3'], [7, 'succeeded', `b:bf:${NOW}`], [8, 'timed_out', 't:5']];
        const ids = new Map<string, string>();
        for (const [end, status, slot] of ends) {
          const run = started(await claim1({ slot, scheduledFor: NOW, dueAt: NOW }));
          await finish(run, at(end), { status });
          ids.set(slot, run.id);
        }
        const read = async (statuses: FinalStatus[], after: number, limit = 10) => (await store.listCompletions!({ task: 't', statuses, endedAfter: after, limit })).map((r) => r.slot);
        assert.deepEqual(await read(['succeeded'], NOW), ['t:2', 't:3']);
        assert.deepEqual(await read(['succeeded'], at(3)), ['t:3'], 'after, not at');
        assert.deepEqual(await read(['failed', 'timed_out', 'succeeded'], NOW), ['t:2', 't:1', 't:5', 't:3']);
        assert.deepEqual(await read(['failed', 'timed_out', 'succeeded'], NOW, 2), ['t:2', 't:1']);
        assert.deepEqual(await read([], NOW), []);
        assert.deepEqual((await store.listCompletions({ task: 't', statuses: ['failed', 'timed_out', 'succeeded'], endedAfter: NOW, limit: 2, order: 'newest' })).map((r) => r.slot), ['t:3', 't:5'], 'newest first');
        assert.deepEqual(await store.listCompletions({ task: 'nope', statuses: ['succeeded'], endedAfter: 0, limit: 5 }), []);
        // A running run has no end yet.
        started(await claim1({ slot: 't:6' }));
        assert.deepEqual(await read(['succeeded'], NOW), ['t:2', 't:3']);
      });

      it('any skip reason, message and deferral round-trips through finish (fast-check)', async () => {
        let n = 0;
        await fc.assert(
          fc.asyncProperty(fc.constantFrom('condition', 'deferred'), trickyString, fc.option(fc.integer({ min: 0, max: 2 ** 40 }), { nil: null }), async (reason, message, deferredMs) => {
            const task = `skip-${++n}`;
            await store.registerTasks([{ name: task, scheduleKey: 'every:60000:0:', anchor: NOW, paused: false }], NOW);
            const run = started(await claim1({ task }));
            const error = asStored({ name: 'Skipped', message, code: null, stack: null }) as RunRecord['error'];
            const done = await finish(run, at(1), { status: 'skipped', skipReason: reason, error, deferredMs, startedAt: null });
            const rec = (done as Extract<FinishOutcome, { kind: 'recorded' }>).run;
            assert.deepEqual([rec.status, rec.skipReason, rec.error, rec.deferredMs], ['skipped', reason, error, deferredMs]);
            assert.deepEqual(await store.getRun(run.id), rec);
          }),
          { numRuns: 40, seed: 20261207 },
        );
      });
    });

    describe('task overrides', () => {
      it('are kept, listed, reach other instances\' polls with their version, and clear', async () => {
        const before = (await store.poll({ instance: 'other', now: at(1), pauseVersion: 0, retryGraceMs: LEASE })).pauseVersion;
        const overrides = { fields: { schedule: { cron: '*/5 * * * *', timezone: 'Europe/Berlin' }, timeout: '2m' }, by: 'ops', at: at(2) };
        const set = await store.setOverrides('t', overrides, at(2));
        assert.equal(set.status, 'set');
        const version = set.status === 'set' ? set.version : 0;
        assert.ok(version > before);
        assert.deepEqual(await store.setOverrides('nope', overrides, at(2)), { status: 'unknown' });
        assert.deepEqual(await store.listOverrides(), [{ task: 't', overrides, version }]);
        assert.deepEqual(await store.listOverrides(['t', 'nope']), [{ task: 't', overrides, version }]);
        assert.deepEqual(await store.listOverrides(['nope']), []);
        const seen = await store.poll({ instance: 'other', now: at(3), pauseVersion: before, retryGraceMs: LEASE });
        assert.deepEqual(seen.paused.map((c) => [c.task, c.paused, c.overrides, c.version]), [['t', false, overrides, version]]);
        assert.deepEqual((await store.poll({ instance: 'other', now: at(4), pauseVersion: seen.pauseVersion, retryGraceMs: LEASE })).paused, [], 'once');
        // A pause keeps them (the poll carries both).
        await store.setPaused('t', true, at(5), 'why');
        const paused = await store.poll({ instance: 'other', now: at(6), pauseVersion: seen.pauseVersion, retryGraceMs: LEASE });
        assert.deepEqual(paused.paused.map((c) => [c.paused, c.note, c.overrides]), [[true, 'why', overrides]]);
        assert.ok((paused.paused[0]?.version ?? 0) > version);
        assert.equal((await store.setOverrides('t', null, at(7))).status, 'set');
        assert.deepEqual(await store.listOverrides(), []);
        const cleared = await store.poll({ instance: 'other', now: at(8), pauseVersion: paused.pauseVersion, retryGraceMs: LEASE });
        assert.deepEqual(cleared.paused.map((c) => c.overrides), [null]);
      });

      it('write only over what the writer read: two writers at once cannot lose one\'s change (compare and set)', async () => {
        const mine = { fields: { timeout: '1m' }, by: 'alice', at: at(1) };
        const theirs = { fields: { priority: 5 }, by: 'bob', at: at(1) };
        assert.equal((await store.setOverrides('t', mine, at(1), null)).status, 'set');
        // Bob read "none" before Alice wrote: his write is refused, nothing lost.
        assert.deepEqual(await store.setOverrides('t', theirs, at(2), null), { status: 'changed' });
        assert.deepEqual((await store.listOverrides())[0]?.overrides, mine);
        // Read again (key order as the store hands it back), merged, written.
        const current = (await store.listOverrides(['t']))[0]?.overrides ?? null;
        const merged = { fields: { ...current?.fields, ...theirs.fields }, by: 'bob', at: at(3) };
        assert.equal((await store.setOverrides('t', merged, at(3), current)).status, 'set');
        assert.deepEqual((await store.listOverrides())[0]?.overrides.fields, { timeout: '1m', priority: 5 });
        // Concurrent writers over the same read: exactly one wins.
        const read = (await store.listOverrides(['t']))[0]?.overrides ?? null;
        const outcomes = await Promise.all(['x', 'y', 'z'].map((by) => store.setOverrides('t', { fields: { jitter: by }, by, at: at(4) }, at(4), read)));
        assert.deepEqual(outcomes.map((o) => o.status).sort(), ['changed', 'changed', 'set']);
      });

      it('any JSON in the fields and any name in `by` read back unchanged (fast-check)', async () => {
        await fc.assert(
          fc.asyncProperty(fc.dictionary(fc.constantFrom('schedule', 'timeout', 'retry', 'overlap', 'catchUp', 'priority', 'jitter'), awkwardJson), trickyString, async (fields, by) => {
            const overrides = { fields: asStored(fields) as Record<string, never>, by, at: at(1) };
            await store.setOverrides('t', overrides, at(1));
            assert.deepEqual((await store.listOverrides()).map((o) => ({ task: o.task, overrides: o.overrides })), [{ task: 't', overrides }]);
            // What was read back is what a compare-and-set compares with.
            assert.equal((await store.setOverrides('t', overrides, at(2), (await store.listOverrides(['t']))[0]?.overrides ?? null)).status, 'set');
          }),
          { numRuns: 50, seed: 20261207 },
        );
      });
    });

    describe('run logs', () => {
      const line = (seq: number, message: string, fields: unknown = null) => ({ seq, at: new Date(at(seq)), level: 'info' as const, message, fields: asStored(fields) });

      it('keeps what the last save gave per run, skips runs it does not have, and deletes a log with its run', async () => {
        const run = started(await claim1({ slot: 't:1', scheduledFor: 1 }, at(1)));
        assert.equal(await store.getRunLog(run.id), null, 'nothing logged yet');
        await store.saveRunLogs([{ runId: run.id, lines: [line(1, 'first')], dropped: 0, updatedAt: new Date(at(2)) }]);
        // One call may carry a run twice (two flushes queued): the last entry wins.
        await store.saveRunLogs([
          { runId: run.id, lines: [line(1, 'stale')], dropped: 0, updatedAt: new Date(at(3)) },
          { runId: uuidv7(), lines: [line(1, 'no such run')], dropped: 0, updatedAt: new Date(at(3)) },
          { runId: run.id, lines: [line(5, 'fifth', { table: 'sessions', rows: 12 }), line(6, 'sixth')], dropped: 4, updatedAt: new Date(at(4)) },
        ]);
        const kept = await store.getRunLog(run.id);
        assert.deepEqual(kept, { runId: run.id, dropped: 4, updatedAt: new Date(at(4)), lines: [line(5, 'fifth', { table: 'sessions', rows: 12 }), line(6, 'sixth')] });
        await store.saveRunLogs([]);
        await finish(run, at(5));
        await store.prune({ maxAgeMs: 1_000, maxPerTask: 1_000 }, at(100_000), 100);
        // The run is its task's last run and last success: kept, with its log.
        assert.notEqual(await store.getRunLog(run.id), null);
        const next = started(await claim1({ slot: 't:2', scheduledFor: 2 }, at(100_001)));
        await finish(next, at(100_002));
        await store.prune({ maxAgeMs: 1_000, maxPerTask: 1_000 }, at(200_000), 100);
        assert.equal(await store.getRun(run.id), null, 'pruned');
        assert.equal(await store.getRunLog(run.id), null, 'its log went with it');
        assert.equal(await store.getRunLog('a\u0000b'), null);
      });

      it('any message and fields read back unchanged (fast-check)', async () => {
        const run = started(await claim1({ slot: 't:3', scheduledFor: 3 }, at(3)));
        await fc.assert(
          fc.asyncProperty(fc.array(fc.record({ message: trickyString, fields: fc.option(awkwardJson), level: fc.constantFrom('debug', 'info', 'warn', 'error' as const) }), { maxLength: 8 }), fc.nat(1_000), async (given, dropped) => {
            const lines = given.map((g, i) => ({ seq: dropped + i + 1, at: new Date(at(i)), level: g.level, message: g.message, fields: g.fields === null ? null : asStored(g.fields) }));
            await store.saveRunLogs([{ runId: run.id, lines, dropped, updatedAt: new Date(at(9)) }]);
            assert.deepEqual(await store.getRunLog(run.id), { runId: run.id, lines, dropped, updatedAt: new Date(at(9)) });
          }),
          { numRuns: 60, seed: 20261207 },
        );
      });
    });

    describe('run stats', () => {
      /** Claims and ends one attempt as described; null when the slot was taken already. */
      const runAttempt = async (task: string, a: { tick: number; slot?: string; attempt: number; status: Exclude<FinalStatus, 'skipped'> | 'running'; d: number; output: unknown; retryAt: number | null }) => {
        const slot = a.slot ?? `t:${a.tick}`;
        const outcome = (await store.claim([request({ task, slot, scheduledFor: a.tick, dueAt: a.tick, attempt: a.attempt, trigger: a.attempt > 1 ? 'retry' : 'schedule' })], a.tick))[0];
        if (outcome?.kind !== 'started') return null;
        if (a.status === 'running') return outcome.run;
        const startedAt = a.tick + 0.25;
        await finish(outcome.run, Math.ceil(startedAt + a.d), { status: a.status, startedAt, finishedAt: startedAt + a.d, output: asStored(a.output), retryAt: a.retryAt });
        return outcome.run;
      };

      it('counts ticks by their last attempt, ranks durations and sums a field per bucket', async () => {
        const task = 'stats-known';
        await store.registerTasks([{ name: task, scheduleKey: 'k', anchor: null, paused: false }], NOW);
        // Bucket 0 (one hour): 20 runs of 1..20 ms, output.freed = i.
        for (let i = 1; i <= 20; i++) await runAttempt(task, { tick: NOW + i * 60_000, attempt: 1, status: 'succeeded', d: i, output: { freed: i }, retryAt: null });
        // Bucket 1: a tick failed then retried to success (one tick, two durations); a skip record of 3 ticks.
        const tick = NOW + 3_600_000 + 60_000;
        await runAttempt(task, { tick, attempt: 1, status: 'failed', d: 100, output: null, retryAt: tick + 5 });
        await runAttempt(task, { tick, attempt: 2, status: 'succeeded', d: 7, output: { freed: 2.5 }, retryAt: null });
        await store.claim([request({ task, slot: `t:${tick + 60_000}`, scheduledFor: tick + 60_000, skip: 'missed', skippedTicks: 3 })], tick + 60_000);
        const stats = await store.runStats({ task, from: new Date(NOW), to: new Date(NOW + 3 * 3_600_000), bucketMs: 3_600_000, field: 'freed', pointLimit: 5 });
        assert.equal(stats.buckets.length, 3);
        const [b0, b1, b2] = stats.buckets;
        assert.equal(b0?.outcomes.succeeded, 20);
        assert.deepEqual(b0?.durations, { count: 20, p50: 10, p95: 19, max: 20 });
        assert.deepEqual(b0?.field, { count: 20, sum: 210, min: 1, max: 20 });
        assert.deepEqual([b1?.outcomes.succeeded, b1?.outcomes.failed, b1?.outcomes.skipped], [1, 0, 3], 'the retried tick counts once, as succeeded');
        assert.deepEqual(b1?.durations, { count: 2, p50: 7, p95: 100, max: 100 });
        assert.deepEqual(b1?.field, { count: 1, sum: 2.5, min: 2.5, max: 2.5 });
        assert.deepEqual([b2?.durations, b2?.field, b2?.start.getTime()], [null, null, NOW + 2 * 3_600_000]);
        assert.deepEqual(stats.points.map((p) => p.durationMs), [18, 19, 20, 100, 7], 'the newest five, oldest first');
        assert.equal(stats.pointsOmitted, 22 - 5);
      });

      it('sums a field whose running total passes the largest double, and reports an overflowing total at its end', async () => {
        const task = 'stats-huge';
        await store.registerTasks([{ name: task, scheduleKey: 'k', anchor: null, paused: false }], NOW);
        for (const [i, a] of [1.7e308, 1.7e308, -1.7e308].entries()) await runAttempt(task, { tick: NOW + i * 60_000, attempt: 1, status: 'succeeded', d: 1, output: { a }, retryAt: null });
        await runAttempt(task, { tick: NOW + 3_600_000, attempt: 1, status: 'succeeded', d: 1, output: { a: 1.7e308 }, retryAt: null });
        await runAttempt(task, { tick: NOW + 3_660_000, attempt: 1, status: 'succeeded', d: 1, output: { a: 1.7e308 }, retryAt: null });
        const stats = await store.runStats({ task, from: new Date(NOW), to: new Date(NOW + 2 * 3_600_000), bucketMs: 3_600_000, field: 'a' });
        assert.ok(Math.abs((stats.buckets[0]?.field?.sum ?? 0) - 1.7e308) < 1e295, `${stats.buckets[0]?.field?.sum}`);
        assert.equal(stats.buckets[1]?.field?.sum, Number.MAX_VALUE);
      });

      it('reads one snapshot: runs ending meanwhile are in the buckets and the points alike', async () => {
        const task = 'stats-race';
        await store.registerTasks([{ name: task, scheduleKey: 'k', anchor: null, paused: false }], NOW);
        const held: RunRecord[] = [];
        for (let i = 0; i < 300; i++) {
          const run = (await store.claim([request({ task, slot: `t:${NOW + i * 1_000}`, scheduledFor: NOW + i * 1_000, dueAt: NOW + i * 1_000 })], NOW + i * 1_000))[0];
          if (run?.kind === 'started') held.push(run.run);
        }
        let writing = true;
        // Three writers, as replicas ending runs while the page reads.
        const writer = Promise.all(
          [0, 1, 2].map(async (k) => {
            for (const run of held.filter((_, i) => i % 3 === k)) await finish(run, (run.startedAt?.getTime() ?? NOW) + 5);
          }),
        ).then(() => {
          writing = false;
        });
        const query = { task, from: new Date(NOW), to: new Date(NOW + 400_000), bucketMs: 60_000, pointLimit: 10_000 };
        let reads = 0;
        while (writing || reads === 0) {
          const stats = await store.runStats(query);
          const counted = stats.buckets.reduce((n, b) => n + (b.durations?.count ?? 0), 0);
          assert.equal(stats.points.length, counted, 'every run that ended is a point and in its bucket');
          assert.equal(stats.pointsOmitted, 0);
          reads++;
        }
        await writer;
        assert.equal((await store.runStats(query)).points.length, held.length);
      });

      it('takes integers past 2^53 in a field as the doubles JSON gives, and refuses a bucket wider than any range', async () => {
        const task = 'stats-big';
        await store.registerTasks([{ name: task, scheduleKey: 'k', anchor: null, paused: false }], NOW);
        await runAttempt(task, { tick: NOW, attempt: 1, status: 'succeeded', d: 1, output: { ns: 1_765_000_000_000_000_000 }, retryAt: null });
        await runAttempt(task, { tick: NOW + 60_000, attempt: 1, status: 'succeeded', d: 1, output: { ns: 2 ** 53 + 2 }, retryAt: null });
        const stats = await store.runStats({ task, from: new Date(NOW), to: new Date(NOW + 3_600_000), bucketMs: 3_600_000, field: 'ns' });
        assert.deepEqual(stats.buckets[0]?.field, { count: 2, sum: 1_765_000_000_000_000_000 + 2 ** 53 + 2, min: 2 ** 53 + 2, max: 1_765_000_000_000_000_000 });
        await assert.rejects(store.runStats({ task, from: new Date(0), to: new Date(8.64e15), bucketMs: 6.048e23 }), /bucketMs: .*use whole milliseconds from 1000/);
      });

      it('refuses a bad query naming the field, and reads nothing', async () => {
        const from = new Date(NOW);
        await assert.rejects(store.runStats({ task: 't', from, to: new Date(NOW + 3_600_000), bucketMs: 1_000 }), /bucketMs.*at most 2000 buckets/);
        await assert.rejects(store.runStats({ task: 't', from, to: from, bucketMs: 60_000 }), /to: .*after from/);
        await assert.rejects(store.runStats({ task: 't', from, to: new Date(NOW + 1), bucketMs: 60_000, field: '0' }), /field: received "0"/);
        await assert.rejects(store.runStats({ task: 't', from, to: new Date(NOW + 1), bucketMs: 60_000, field: "a'); DROP TABLE caretaker_runs; --" }), /field/);
        await assert.rejects(store.runStats({ task: 't', from: new Date(Number.NaN), to: new Date(NOW + 1), bucketMs: 60_000 }), /from: /);
        const none = await store.runStats({ task: 'a\u0000b', from, to: new Date(NOW + 60_000), bucketMs: 60_000, field: 'x' });
        assert.deepEqual([none.buckets.length, none.points, none.pointsOmitted], [1, [], 0]);
      });

      it('answers as the records say for any history, range, bucket and field (fast-check)', async () => {
        let n = 0;
        const status = fc.constantFrom<Exclude<FinalStatus, 'skipped'>>('succeeded', 'failed', 'timed_out', 'cancelled', 'interrupted');
        const number = fc.oneof(
          fc.integer({ min: -1e6, max: 1e6 }),
          fc.double({ noNaN: true, noDefaultInfinity: true }),
          fc.constantFrom(1e308, -1e308, 1.7e308, 5e-324, 1e-300, 2 ** 53 + 2, 2 ** 60, 1_765_000_000_000_000_000, -(2 ** 63)),
        );
        const output = fc.oneof(
          fc.record({ a: number }),
          fc.record({ x: fc.record({ y: number }), a: trickyString }),
          fc.record({ a: number, tricky: trickyString }),
          // Outputs jsonb cannot hold as they are (PostgreSQL keeps them as text in an envelope).
          fc.record({ a: number, x: fc.record({ y: number }), nul: fc.constantFrom('\u0000', 'x\ud800', 'x\udc00y', '\udfff') }),
          awkwardJson,
          fc.constant(null),
        );
        const tick = fc.record({
          minute: fc.integer({ min: 0, max: 300 }),
          attempts: fc.array(fc.record({ status, d: fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.double({ min: 0, max: 5000, noNaN: true })), output }), { minLength: 1, maxLength: 3 }),
          // The last attempt: left running, or failed with a retry scheduled that never came.
          last: fc.constantFrom('ended', 'running', 'retry-pending'),
          skip: fc.option(fc.record({ reason: fc.constantFrom('missed', 'overlap', 'paused' as const), ticks: fc.integer({ min: 1, max: 5 }) }), { freq: 4 }),
          manual: fc.boolean(),
        });
        const query = fc.record({
          from: fc.integer({ min: -30, max: 200 }),
          span: fc.integer({ min: 1, max: 400 }),
          bucket: fc.constantFrom(60_000, 300_000, 420_000, 3_600_000),
          field: fc.constantFrom(undefined, 'a', 'x.y', 'missing', '$caretaker:json'.replace(':', '_')),
          pointLimit: fc.integer({ min: 0, max: 12 }),
        });
        await fc.assert(
          fc.asyncProperty(fc.array(tick, { minLength: 1, maxLength: 10 }), fc.array(query, { minLength: 1, maxLength: 3 }), async (ticks, queries) => {
            const task = `stats-${++n}`;
            await store.registerTasks([{ name: task, scheduleKey: 'k', anchor: null, paused: false }], NOW);
            for (const [i, t] of ticks.entries()) {
              const at0 = NOW + t.minute * 60_000;
              if (t.skip !== null) {
                await store.claim([request({ task, slot: `t:${at0}`, scheduledFor: at0, skip: t.skip.reason, skippedTicks: t.skip.ticks })], at0);
                continue;
              }
              const slot = t.manual ? `m:${task}-${i}` : undefined;
              for (const [k, a] of t.attempts.entries()) {
                const final = k === t.attempts.length - 1;
                const st = final && t.last === 'running' ? 'running' : a.status;
                const retryAt = !final || t.last === 'retry-pending' ? at0 + 1 : null;
                if ((await runAttempt(task, { tick: at0, ...(slot ? { slot } : {}), attempt: k + 1, status: st, d: a.d, output: a.output, retryAt })) === null) break;
              }
            }
            const all: RunRecord[] = [];
            for (let cursor: string | null | undefined; cursor !== null; ) {
              const page = await store.listRuns({ task, limit: 1_000, ...(cursor ? { cursor } : {}) });
              all.push(...page.runs);
              cursor = page.nextCursor;
            }
            for (const q of queries) {
              const asked = { task, from: new Date(NOW + q.from * 60_000), to: new Date(NOW + (q.from + q.span) * 60_000), bucketMs: q.bucket, pointLimit: q.pointLimit, ...(q.field ? { field: q.field } : {}) };
              const got = await store.runStats(asked);
              const want = statsOfRuns(normaliseStatsQuery(asked), all);
              // Sums of doubles depend on the order they are added in: equal to a relative 1e-9.
              got.buckets.forEach((b, i) => {
                const w = want.buckets[i]?.field;
                if (b.field !== null && w != null) assert.ok(Math.abs(b.field.sum - w.sum) <= 1e-9 * Math.max(1, Math.abs(w.sum)) + 1e-300, `sum ${b.field.sum} vs ${w.sum}`);
              });
              const sumless = (r: RunStats) => ({ ...r, buckets: r.buckets.map((b) => ({ ...b, field: b.field && { ...b.field, sum: 0 } })) });
              assert.deepEqual(sumless(got), sumless(want));
            }
          }),
          { numRuns: 40, seed: 20261207 },
        );
      });
    });

    describe('commands', () => {
      it('cancel requests reach the owner; unknown and finished runs are reported', async () => {
        const run = started(await claim1({ instance: 'owner' }));
        assert.equal(await store.requestCancel(run.id, at(1)), 'requested');
        assert.deepEqual((await store.poll({ instance: 'owner', now: at(1), pauseVersion: 0, retryGraceMs: LEASE })).cancels, [run.id]);
        await finish(run, at(2), { status: 'cancelled' });
        assert.equal(await store.requestCancel(run.id, at(3)), 'not-running');
        assert.equal(await store.requestCancel(uuidv7(), at(3)), 'not-found');
        // Ids from users (the API, the CLI) may hold anything, NUL included: they match nothing.
        assert.equal(await store.requestCancel('a\0b', at(3)), 'not-found');
        assert.equal(await store.getRun('a\0b'), null);
      });

      it('pause changes are seen by version, once', async () => {
        assert.equal(await store.setPaused('t', true, at(1)), true);
        assert.equal(await store.setPaused('missing', true, at(1)), false);
        let poll = await store.poll({ instance: 'i1', now: at(2), pauseVersion: 0, retryGraceMs: LEASE });
        assert.deepEqual(pauses(poll), [{ task: 't', paused: true, note: null, pausedAt: at(1) }]);
        poll = await store.poll({ instance: 'i1', now: at(3), pauseVersion: poll.pauseVersion, retryGraceMs: LEASE });
        assert.deepEqual(poll.paused, []);
        await store.setPaused('t', false, at(4));
        poll = await store.poll({ instance: 'i1', now: at(5), pauseVersion: poll.pauseVersion, retryGraceMs: LEASE });
        assert.deepEqual(pauses(poll), [{ task: 't', paused: false, note: null, pausedAt: null }]);
      });

      it('a pause keeps its note and when; pausing again replaces the note, not the time; resuming clears both', async () => {
        const pollFrom = (version: number, s: number) => store.poll({ instance: 'i1', now: at(s), pauseVersion: version, retryGraceMs: LEASE });
        const stateOf = async () => {
          const t = (await store.listTasks()).find((x) => x.name === 't');
          return [t?.paused, t?.pauseNote, t?.pausedAt];
        };
        await store.setPaused('t', true, at(1), 'migration until 18:00 (ops-1423)');
        let poll = await pollFrom(0, 2);
        assert.deepEqual(pauses(poll), [{ task: 't', paused: true, note: 'migration until 18:00 (ops-1423)', pausedAt: at(1) }]);
        assert.deepEqual(await stateOf(), [true, 'migration until 18:00 (ops-1423)', at(1)]);
        // The same pause again changes nothing: no new version.
        await store.setPaused('t', true, at(3), 'migration until 18:00 (ops-1423)');
        const quiet = await pollFrom(poll.pauseVersion, 4);
        assert.deepEqual(quiet.paused, []);
        await store.setPaused('t', true, at(5), 'extended to 20:00');
        poll = await pollFrom(poll.pauseVersion, 6);
        assert.deepEqual(pauses(poll), [{ task: 't', paused: true, note: 'extended to 20:00', pausedAt: at(1) }]);
        const [registered] = await store.registerTasks([{ name: 't', scheduleKey: 'every:60000:0:', anchor: NOW, paused: false }], at(7));
        assert.deepEqual([registered?.paused, registered?.pauseNote, registered?.pausedAt], [true, 'extended to 20:00', at(1)], 'a restart finds the note');
        await store.setPaused('t', false, at(8), 'ignored: a resume keeps no note');
        poll = await pollFrom(poll.pauseVersion, 9);
        assert.deepEqual(pauses(poll), [{ task: 't', paused: false, note: null, pausedAt: null }]);
        assert.deepEqual(await stateOf(), [false, null, null]);
      });

      it('any note reads back unchanged through polls, listTasks and registerTasks (fast-check)', async () => {
        let version = 0;
        let s = 10;
        await fc.assert(
          fc.asyncProperty(trickyString.map((x) => wellFormed(x).replaceAll('\u0000', '').trim()), async (note) => {
            await store.setPaused('t', true, at(++s), note);
            const poll = await store.poll({ instance: 'i1', now: at(++s), pauseVersion: version, retryGraceMs: LEASE });
            version = poll.pauseVersion;
            const seen = poll.paused.find((p) => p.task === 't');
            // Pausing with the note it already has is no change, and is not reported again.
            if (seen !== undefined) assert.equal(seen.note, note, 'poll');
            assert.equal((await store.listTasks()).find((x) => x.name === 't')?.pauseNote, note, 'listTasks');
            const [registered] = await store.registerTasks([{ name: 't', scheduleKey: 'every:60000:0:', anchor: NOW, paused: false }], at(++s));
            assert.equal(registered?.pauseNote, note, 'registerTasks');
          }),
          { numRuns: 40, seed: 20261207 },
        );
      });

      it('signals triggers, cancels and pauses to subscribers', async (t) => {
        if (store.subscribe === undefined) {
          t.skip('this store has no push channel');
          return;
        }
        const seen: StoreSignal[] = [];
        const off = store.subscribe((s) => seen.push(s));
        const run = started(await claim1());
        await store.requestTrigger({ id: 'x', task: 't', requestedAt: NOW });
        await store.requestCancel(run.id, NOW);
        await store.setPaused('t', true, NOW);
        for (let i = 0; i < 50 && seen.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
        off();
        assert.deepEqual([...seen].sort(), ['cancel', 'pause', 'trigger']);
      });
    });

    describe('backfills', () => {
      const slotOf = (id: string, instant: number) => `b:${id}:${instant}`;
      const backfill = (id: string, instants: number[], task = 't') =>
        store.requestBackfill({ id, task, from: instants[0] ?? 0, to: instants.at(-1) ?? 0, instants, requestedBy: 'ops', requestedAt: NOW });
      const claimInstant = (id: string, instant: number, over: Partial<ClaimRequest> = {}, now = NOW) =>
        claim1({ slot: slotOf(id, instant), trigger: 'backfill', scheduledFor: instant, dueAt: now, overlap: 'wait', ...over }, now);

      it('is listed by polls while running, claimed once per instant, and closes only when nothing of it runs', async () => {
        const id = uuidv7(NOW);
        const instants = [at(-300), at(-200), at(-100)];
        await backfill(id, instants);
        const poll = await store.poll({ instance: 'i1', now: NOW, pauseVersion: 0, retryGraceMs: 0 });
        assert.deepEqual(poll.backfills, [{ id, task: 't', instants }]);
        const first = started(await claimInstant(id, at(-300)));
        assert.equal(first.trigger, 'backfill');
        assert.equal((await claimInstant(id, at(-300)))?.kind, 'taken', 'each instant once');
        assert.equal((await claimInstant(id, at(-200)))?.kind, 'busy', 'one at a time: the next waits, nothing recorded');
        assert.deepEqual(await store.unclaimed(instants.map((i) => ({ task: 't', slot: slotOf(id, i), attempt: 1 }))), [false, true, true]);
        // A backfill's slot does not move the task's cursor of scheduled ticks.
        assert.equal((await store.listTasks()).find((x) => x.name === 't')?.lastTick, null);
        assert.equal(await store.endBackfill(id, 'done', at(1)), 'busy', 'not while its run runs');
        await finish(first, at(2));
        const second = started(await claimInstant(id, at(-200), {}, at(3)));
        await finish(second, at(4), { status: 'failed' });
        const third = started(await claimInstant(id, at(-100), {}, at(5)));
        await finish(third, at(6));
        const record = await store.getBackfill(id);
        assert.deepEqual(record?.progress, { total: 3, pending: 0, running: 0, succeeded: 2, failed: 1, cancelled: 0, skipped: 0 });
        assert.deepEqual([record?.status, record?.requestedBy, record?.from.getTime(), record?.to.getTime()], ['running', 'ops', at(-300), at(-100)]);
        assert.equal(await store.endBackfill(id, 'done', at(7)), 'ended');
        assert.equal(await store.endBackfill(id, 'cancelled', at(8)), 'not-running');
        assert.equal(await store.endBackfill('nope', 'done', at(8)), 'not-found');
        assert.equal(await store.endBackfill('a\u0000b', 'done', at(8)), 'not-found');
        assert.deepEqual((await store.poll({ instance: 'i1', now: at(9), pauseVersion: 0, retryGraceMs: 0 })).backfills, []);
        const ended = await store.getBackfill(id);
        assert.deepEqual([ended?.status, ended?.endedAt?.getTime()], ['done', at(7)]);
      });

      it('counts each instant by its latest attempt; a cancel asks the owners of its running runs to cancel', async () => {
        const id = uuidv7(NOW);
        await backfill(id, [at(-20), at(-10)]);
        const failed = started(await claimInstant(id, at(-20)));
        await finish(failed, at(1), { status: 'failed', retryAt: at(2) });
        const retried = started(await claimInstant(id, at(-20), { attempt: 2, trigger: 'retry' }, at(2)));
        assert.deepEqual((await store.getBackfill(id))?.progress, { total: 2, pending: 1, running: 1, succeeded: 0, failed: 0, cancelled: 0, skipped: 0 });
        assert.equal(await store.endBackfill(id, 'cancelled', at(3)), 'ended');
        const poll = await store.poll({ instance: 'i1', now: at(4), pauseVersion: 0, retryGraceMs: 0 });
        assert.deepEqual(poll.cancels, [retried.id]);
        assert.deepEqual(poll.backfills, []);
        assert.equal((await store.getBackfill(id))?.status, 'cancelled');
      });

      it('an ended backfill starts nothing more, its retries neither; done waits for pending retries; cancel drops them', async () => {
        const id = uuidv7(NOW);
        await backfill(id, [at(-20), at(-10)]);
        const first = started(await claimInstant(id, at(-20)));
        await finish(first, at(1), { status: 'failed', retryAt: at(60) });
        assert.equal(await store.endBackfill(id, 'done', at(2)), 'busy', 'a retry of it is pending');
        assert.equal(await store.endBackfill(id, 'cancelled', at(3)), 'ended');
        assert.equal((await claimInstant(id, at(-10), {}, at(4)))?.kind, 'taken', 'nothing more starts');
        assert.equal((await claimInstant(id, at(-20), { attempt: 2, trigger: 'retry' }, at(61)))?.kind, 'taken', 'its retry neither');
        assert.deepEqual((await store.poll({ instance: 'i1', now: at(120), pauseVersion: 0, retryGraceMs: 0 })).retries, [], 'the retry is dropped');
        assert.equal((await store.getRun(first.id))?.retryAt, null);
        assert.equal((await claimInstant('never-made', at(-20), {}, at(5)))?.kind, 'taken', 'an unknown backfill runs nothing');
      });

      it('lists newest first, by task, bounded; runs of a running backfill survive prune', async () => {
        await store.registerTasks([{ name: 'u', scheduleKey: 'k', anchor: null, paused: false }], NOW);
        const ids = [uuidv7(NOW + 1), uuidv7(NOW + 2), uuidv7(NOW + 3)];
        await backfill(ids[0] as string, [at(-50)]);
        await backfill(ids[1] as string, [at(-40)], 'u');
        await backfill(ids[2] as string, [at(-30), at(-29)]);
        assert.deepEqual((await store.listBackfills({})).map((b) => b.id), [...ids].reverse());
        assert.deepEqual((await store.listBackfills({ task: 't' })).map((b) => b.id), [ids[2], ids[0]]);
        assert.deepEqual((await store.listBackfills({ limit: 1 })).map((b) => b.id), [ids[2]]);
        assert.deepEqual(await store.listBackfills({ task: 'a\u0000b' }), []);
        assert.equal(await store.getBackfill('a\u0000b'), null);
        const run = started(await claimInstant(ids[2] as string, at(-30)));
        await finish(run, at(1));
        const other = started(await claimInstant(ids[0] as string, at(-50), {}, at(2)));
        await finish(other, at(3));
        await store.endBackfill(ids[0] as string, 'done', at(4));
        const live = started(await claim1({ slot: `t:${at(5)}`, scheduledFor: at(5) }, at(5)));
        await finish(live, at(6));
        while ((await store.prune({ maxAgeMs: 1_000_000, maxPerTask: 1 }, at(100), 100)) > 0);
        let left = new Set((await store.listRuns({ limit: 100 })).runs.map((r) => r.id));
        assert.ok(left.has(run.id), 'the running backfill keeps its runs: its slots say what ran');
        assert.ok(left.has(other.id), 'an ended one keeps them while it is kept: its progress stays true');
        assert.equal((await store.getBackfill(ids[0] as string))?.progress.succeeded, 1);
        while ((await store.prune({ maxAgeMs: 1000, maxPerTask: 1 }, at(100_000), 100)) > 0);
        left = new Set((await store.listRuns({ limit: 100 })).runs.map((r) => r.id));
        assert.ok(left.has(run.id), 'the running one still keeps them');
        assert.equal(await store.getBackfill(ids[0] as string), null, 'an ended one goes with the history\'s age');
        assert.ok(!left.has(other.id), 'and its runs with it');
      });

      it('progress counts any claims and ends as the model does (fast-check)', async () => {
        const statuses = ['succeeded', 'failed', 'timed_out', 'cancelled', 'interrupted'] as const;
        await fc.assert(
          fc.asyncProperty(fc.array(fc.record({ instant: fc.integer({ min: 0, max: 5 }), attempts: fc.array(fc.option(fc.constantFrom(...statuses), { nil: null }), { minLength: 1, maxLength: 3 }) }), { maxLength: 6 }), async (plan) => {
            const id = uuidv7(NOW + seq++);
            const instants = [0, 1, 2, 3, 4, 5].map((i) => at(-1000 + i));
            await backfill(id, instants);
            const expected = { total: 6, pending: 6, running: 0, succeeded: 0, failed: 0, cancelled: 0, skipped: 0 };
            const seen = new Set<number>();
            let clock = at(10);
            for (const { instant, attempts } of plan) {
              if (seen.has(instant)) continue;
              seen.add(instant);
              expected.pending--;
              let last: string = 'running';
              for (const [n, status] of attempts.entries()) {
                const run = started(await claimInstant(id, instants[instant] as number, { attempt: n + 1, overlap: 'allow', maxConcurrent: 100 }, clock++));
                if (status !== null) await finish(run, clock++, { status });
                last = status ?? 'running';
                if (status === null) break;
              }
              const key = last === 'timed_out' || last === 'interrupted' ? 'failed' : (last as keyof typeof expected);
              expected[key]++;
            }
            assert.deepEqual((await store.getBackfill(id))?.progress, expected);
            // What runs is cancelled with it, so the next case starts with nothing running.
            await store.endBackfill(id, 'cancelled', clock);
            for (const cancel of (await store.poll({ instance: 'i1', now: clock, pauseVersion: 0, retryGraceMs: 0 })).cancels) {
              const r = await store.getRun(cancel);
              if (r !== null) await finish(r, clock, { status: 'cancelled' });
            }
          }),
          { numRuns: 25 },
        );
      });
    });

    describe('notifications', () => {
      const item = (eventId: string, channel: string, over: Partial<NewNotification> = {}): NewNotification => ({
        id: uuidv7(NOW + seq++),
        eventId,
        channel,
        kind: 'failed',
        task: 't',
        event: { id: eventId, kind: 'failed', task: 't', message: 'it failed' },
        ...over,
      });

      it('records each event once per channel, however many replicas enqueue it; one instance claims each attempt', async () => {
        assert.equal(await store.enqueueNotifications([item('failed:r1', 'slack'), item('failed:r1', 'pager')], NOW), 2);
        assert.equal(await store.enqueueNotifications([item('failed:r1', 'slack'), item('failed:r2', 'slack')], NOW + 1), 1, 'a replica that saw it too adds nothing');
        const [a, b] = await Promise.all([store.claimNotifications('i1', at(1), 30_000, 2), store.claimNotifications('i2', at(1), 30_000, 10)]);
        const claimed = [...(a ?? []), ...(b ?? [])];
        assert.equal(claimed.length, 3, 'each claimed once');
        assert.deepEqual(new Set(claimed.map((n) => `${n.eventId}|${n.channel}`)).size, 3);
        assert.ok(claimed.every((n) => n.attempts === 1 && n.status === 'pending'));
        assert.deepEqual(await store.claimNotifications('i3', at(2), 30_000, 10), [], 'claimed ones are not due while the claim holds');
        const [first, second, third] = claimed as [NotificationRecord, NotificationRecord, NotificationRecord];
        const claimOf = (n: NotificationRecord) => ({ eventId: n.eventId, channel: n.channel, instance: n.claimedBy as string, attempt: n.attempts });
        assert.equal(await store.settleNotification(claimOf(first), { status: 'delivered' }, at(3)), true);
        assert.equal(await store.settleNotification(claimOf(first), { status: 'delivered' }, at(3)), false, 'settled once');
        assert.equal(await store.settleNotification({ ...claimOf(second), instance: 'other' }, { status: 'delivered' }, at(3)), false, 'only by its claimant');
        assert.equal(await store.settleNotification(claimOf(second), { status: 'pending', retryAt: at(60), error: 'HTTP 503' }, at(3)), true);
        assert.equal(await store.settleNotification(claimOf(third), { status: 'failed', error: 'HTTP 400 a\u0000b' }, at(3)), true);
        assert.deepEqual(await store.claimNotifications('i3', at(59), 30_000, 10), [], 'not before its retry is due');
        const again = await store.claimNotifications('i3', at(60), 30_000, 10);
        assert.deepEqual(again.map((n) => [n.eventId, n.channel, n.attempts, n.lastError]), [[second.eventId, second.channel, 2, 'HTTP 503']]);
        // A claim that lapses (its instance died mid-delivery) is due again; the old claimant can no longer settle it.
        const lapsed = await store.claimNotifications('i4', at(60 + 31), 30_000, 10);
        assert.deepEqual(lapsed.map((n) => [n.eventId, n.attempts]), [[second.eventId, 3]]);
        assert.equal(await store.settleNotification(claimOf(again[0] as NotificationRecord), { status: 'delivered' }, at(92)), false);
        assert.equal(await store.settleNotification(claimOf(lapsed[0] as NotificationRecord), { status: 'delivered' }, at(92)), true);
        const page = await store.listNotifications({});
        assert.equal(page.notifications.length, 3);
        const byKey = new Map(page.notifications.map((n) => [`${n.eventId}|${n.channel}`, n]));
        assert.deepEqual([...byKey.values()].map((n) => n.status).sort(), ['delivered', 'delivered', 'failed']);
        const failed = page.notifications.find((n) => n.status === 'failed');
        assert.match(failed?.lastError ?? '', /^HTTP 400 a.b$/);
        assert.equal(failed?.nextAttemptAt, null);
        const delivered = byKey.get(`${second.eventId}|${second.channel}`);
        assert.deepEqual([delivered?.claimedBy, delivered?.deliveredAt?.getTime(), delivered?.attempts], ['i4', at(92), 3]);
      });

      it('lists newest first with filters and a cursor; prunes settled ones past maxAge, never pending ones', async () => {
        await store.registerTasks([{ name: 'u', scheduleKey: 'k', anchor: null, paused: false }], NOW);
        for (let i = 0; i < 5; i++) await store.enqueueNotifications([item(`e${i}`, 'c', { task: i % 2 === 0 ? 't' : 'u' })], at(i));
        const all = await store.listNotifications({ limit: 2 });
        assert.deepEqual(all.notifications.map((n) => n.eventId), ['e4', 'e3']);
        const rest = await store.listNotifications({ limit: 10, ...(all.nextCursor !== null ? { cursor: all.nextCursor } : {}) });
        assert.deepEqual(rest.notifications.map((n) => n.eventId), ['e2', 'e1', 'e0']);
        assert.deepEqual((await store.listNotifications({ task: 'u' })).notifications.map((n) => n.eventId), ['e3', 'e1']);
        for (const n of await store.claimNotifications('i1', at(10), 1000, 2)) await store.settleNotification({ eventId: n.eventId, channel: n.channel, instance: 'i1', attempt: 1 }, { status: 'delivered' }, at(11));
        assert.deepEqual((await store.listNotifications({ status: 'delivered' })).notifications.map((n) => n.eventId), ['e1', 'e0']);
        await assert.rejects(store.listNotifications({ status: 'lost' as 'failed' }), (e: unknown) => e instanceof InvalidOptionError && /status/.test(e.message));
        await assert.rejects(store.listNotifications({ limit: 0 }), (e: unknown) => e instanceof InvalidOptionError && /limit/.test(e.message));
        assert.deepEqual((await store.listNotifications({ task: 'a\u0000b' })).notifications, []);
        await store.prune({ maxAgeMs: 1000, maxPerTask: 1000 }, at(100), 100);
        assert.deepEqual((await store.listNotifications({})).notifications.map((n) => n.eventId), ['e4', 'e3', 'e2'], 'only the settled old ones went');
      });

      it('any event JSON reads back unchanged, claimed and listed (fast-check)', async () => {
        await fc.assert(
          fc.asyncProperty(awkwardJson, trickyString, async (event, message) => {
            const eventId = `e-${seq++}`;
            await store.enqueueNotifications([item(eventId, 'c', { event: asStored(event) })], at(1));
            const [claimed] = (await store.claimNotifications('i1', at(2), 1000, 1000)).filter((n) => n.eventId === eventId);
            assert.deepEqual(claimed?.event, asStored(event));
            await store.settleNotification({ eventId, channel: 'c', instance: 'i1', attempt: 1 }, { status: 'failed', error: message }, at(3));
            const [listed] = (await store.listNotifications({ limit: 1 })).notifications;
            assert.deepEqual(listed?.event, asStored(event));
            assert.equal(typeof listed?.lastError, 'string');
          }),
          { numRuns: 40 },
        );
      });
    });

    describe('audit', () => {
      const entry = (n: number, over: Partial<AuditEntry> = {}): AuditEntry => ({
        id: uuidv7(NOW + n),
        at: new Date(at(n)),
        actor: 'ci',
        source: 'api',
        action: 'pause',
        task: 't',
        runId: null,
        detail: { note: `n${n}` },
        ...over,
      });

      it('keeps every change; pages newest first, by task, with a cursor; bad queries name the field', async () => {
        // Ids are made in time order (UUIDv7); the records arrive out of it.
        const [e1, e2, e3] = [
          entry(1),
          entry(2, { action: 'resume', detail: null }),
          entry(3, { action: 'trigger', task: 'other', runId: uuidv7(NOW), detail: null, source: 'cli', actor: 'cli:ops' }),
        ];
        for (const e of [e1, e3, e2]) await store.recordAudit(e);
        const all = await store.listAudit({});
        assert.deepEqual(all.entries.map((e) => e.action), ['trigger', 'resume', 'pause'], 'newest first, whatever the order written');
        assert.equal(all.nextCursor, null);
        assert.deepEqual(all.entries[0], e3);
        assert.deepEqual((await store.listAudit({ task: 't' })).entries.map((e) => e.action), ['resume', 'pause']);
        const first = await store.listAudit({ limit: 2 });
        assert.equal(first.entries.length, 2);
        assert.ok(first.nextCursor !== null);
        const rest = await store.listAudit({ limit: 2, cursor: first.nextCursor ?? undefined });
        assert.deepEqual(rest.entries.map((e) => e.action), ['pause']);
        assert.equal(rest.nextCursor, null);
        await assert.rejects(store.listAudit({ limit: 0 }), (e: unknown) => e instanceof InvalidOptionError && /limit/.test(e.message));
        // A task name no store keeps (NUL: PostgreSQL text cannot) matches nothing, without an error.
        assert.deepEqual(await store.listAudit({ task: 'a\u0000b' }), { entries: [], nextCursor: null });
        await assert.rejects(store.listAudit({ cursor: 'x' }), (e: unknown) => e instanceof InvalidOptionError && /cursor/.test(e.message));
      });

      it('any detail, actor and task name reads back unchanged (fast-check)', async () => {
        let n = 100;
        const text = trickyString.map((x) => wellFormed(x).replaceAll('\u0000', ''));
        await fc.assert(
          fc.asyncProperty(awkwardJson, text, text, async (detail, actor, task) => {
            const written = entry(++n, { detail: asStored(detail), actor, task: `audit-${n}-${task}` });
            await store.recordAudit(written);
            const [read] = (await store.listAudit({ task: `audit-${n}-${task}`, limit: 1 })).entries;
            assert.deepEqual(read, written);
          }),
          { numRuns: 40, seed: 20261208 },
        );
      });
    });

    describe('history', () => {
      async function seed(): Promise<RunRecord[]> {
        const runs: RunRecord[] = [];
        for (let i = 0; i < 30; i++) {
          const task = i % 3 === 0 ? 'u' : 't';
          const run = started(await claim1({ task, slot: `t:${at(i * 60)}`, scheduledFor: at(i * 60), trigger: i % 5 === 0 ? 'manual' : 'schedule' }, at(i * 60)));
          const done = await finish(run, at(i * 60 + 1), { status: i % 4 === 0 ? 'failed' : 'succeeded' });
          runs.push((done as Extract<typeof done, { kind: 'recorded' }>).run);
        }
        return runs;
      }

      it('lists newest first with filters', async () => {
        const runs = await seed();
        const all = (await store.listRuns({ limit: 100 })).runs;
        assert.deepEqual(all.map((r) => r.id), runs.map((r) => r.id).reverse());
        const uFailed = (await store.listRuns({ task: 'u', status: 'failed', limit: 100 })).runs;
        assert.deepEqual(uFailed.map((r) => r.id), runs.filter((r) => r.task === 'u' && r.status === 'failed').map((r) => r.id).reverse());
        const several = (await store.listRuns({ status: ['failed', 'succeeded'], trigger: 'manual', limit: 100 })).runs;
        assert.equal(several.length, 6);
        const range = (await store.listRuns({ from: new Date(at(600)), to: new Date(at(1200)), limit: 100 })).runs;
        assert.deepEqual(range.map((r) => r.scheduledFor.getTime()).sort((a, b) => a - b), Array.from({ length: 10 }, (_, i) => at(600 + i * 60)));
      });

      it('pages with a cursor: every run exactly once', async () => {
        const runs = await seed();
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.listRuns({ limit: 7, ...(cursor !== undefined ? { cursor } : {}) });
          seen.push(...page.runs.map((r) => r.id));
          cursor = page.nextCursor ?? undefined;
          pages++;
        } while (cursor !== undefined);
        assert.equal(pages, 5);
        assert.deepEqual(seen, runs.map((r) => r.id).reverse());
      });

      it('rejects bad queries with the field named', async () => {
        await assert.rejects(store.listRuns({ limit: 5000 }), (e: unknown) => e instanceof InvalidOptionError && /limit: received 5000/.test(e.message));
        await assert.rejects(store.listRuns({ cursor: 'garbage' }), /cursor: received "garbage"/);
        assert.equal(await store.getRun(uuidv7()), null);
      });

      it('prune keeps the newest maxPerTask per task and drops runs older than maxAge, never a last success', async () => {
        const seeded = await seed();
        const lastSuccessOf = (task: string) => seeded.filter((r) => r.task === task && r.status === 'succeeded').at(-1)?.id;
        const live = started(await claim1({ slot: 't:1', scheduledFor: 1 }, at(5000)));
        const pending = started(await claim1({ task: 'u', slot: 't:2', scheduledFor: 2 }, at(5000)));
        await finish(pending, at(5001), { status: 'failed', retryAt: at(9000) });
        let deleted = 0;
        for (let n = await store.prune({ maxAgeMs: 1e12, maxPerTask: 3 }, at(6000), 4); n > 0; n = await store.prune({ maxAgeMs: 1e12, maxPerTask: 3 }, at(6000), 4)) deleted += n;
        const left = (await store.listRuns({ limit: 100 })).runs;
        assert.ok(left.some((r) => r.id === live.id), 'running runs are never pruned');
        assert.ok(left.some((r) => r.id === pending.id), 'runs with a pending retry are kept');
        const perTask = (task: string) => left.filter((r) => r.task === task && r.status !== 'running').length;
        assert.ok(perTask('t') <= 3 && perTask('u') <= 4, `${perTask('t')} ${perTask('u')}`);
        assert.equal(deleted, 32 - left.length);
        await store.prune({ maxAgeMs: 1000, maxPerTask: 1000 }, at(20_000), 100);
        const old = (await store.listRuns({ limit: 100 })).runs;
        // Running, waiting for a retry, or a task's last run or last success: everything else went.
        assert.deepEqual(old.map((r) => r.id).sort(), [live.id, pending.id, lastSuccessOf('t'), lastSuccessOf('u')].sort());
      });
    });
  });
}
