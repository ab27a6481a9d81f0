/**
 * Hostile checks of the burst paths of decision 025 on every store: set-based claims
 * (`caretaker_claim_ticks`), columnar ends (`finishMany`, whose record PostgreSQL now builds
 * client-side), and `unclaimed`, with odd names, odd JSON values, duplicates and a store error
 * between the two statements of a mixed claim.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import fc from 'fast-check';
import pg from 'pg';
import type { FinishOutcome, RunCompletion, RunRecord, Store } from '../../src/index.ts';
import { memoryStore, postgresStore, sqliteStore } from '../../src/index.ts';
import { seededRandom } from '../helpers.ts';
import { postgresSkip, testDatabase } from '../helpers/postgres.ts';
import { NOW, requests, started } from './claim-requests.ts';
import { asStored, awkwardJson, runError, runProgress } from './json-arbitraries.ts';

const at = (s: number) => NOW + s * 1000;

let seq = 0;
const request = requests(() => `run-${String(++seq).padStart(8, '0')}`);

const end = (run: RunRecord, now: number, over: Partial<RunCompletion> = {}): RunCompletion => ({
  runId: run.id,
  fencingToken: run.fencingToken ?? 0,
  status: 'succeeded',
  startedAt: run.startedAt?.getTime() ?? null,
  finishedAt: now,
  output: null,
  error: null,
  retryAt: null,
  progress: null,
  takeQueued: true,
  ...over,
});

const register = (store: Store, names: readonly string[]) =>
  store.registerTasks(names.map((name) => ({ name, scheduleKey: 'every:60000:0:', anchor: NOW, paused: false })), NOW);

interface Fixture {
  readonly store: Store;
  close(): Promise<void>;
}

/** Task names no engine accepts but the Store API does: array-literal metacharacters, unicode, length. */
const ODD_NAMES = [
  'NULL',
  'null',
  'with space',
  'quote"inside',
  'back\\slash',
  'comma,brace{}',
  '{"a":1}',
  'ünïcödé-ñame',
  'emoji-😀-name',
  'combining-e\u0301',
  'rtl-\u05e9\u05dc\u05d5\u05dd',
  'tab\tnewline\n',
  `long-${'x'.repeat(1_000)}`,
  '',
];

const jsonish = awkwardJson;
const progress = fc.option(runProgress);

function describeHostile(name: string, make: () => Promise<Fixture>, skip: string | false = false): void {
  describe(`burst paths under hostile input: ${name}`, { skip }, () => {
    let fixture: Fixture;
    let store: Store;
    beforeEach(async () => {
      fixture = await make();
      store = fixture.store;
      await store.open();
    });
    afterEach(async () => {
      await store.close();
      await fixture.close();
    });

    it('finishMany returns, for every recorded end, exactly the record getRun reads back (any JSON value, fenced mixed in; fast-check)', async () => {
      let round = 0;
      const completion = fc.record({
        output: jsonish,
        error: fc.option(runError),
        progress,
        early: progress,
        status: fc.constantFrom('succeeded', 'failed', 'timed_out', 'cancelled', 'interrupted'),
        retryIn: fc.option(fc.integer({ min: 1, max: 100_000 })),
        fenced: fc.boolean(),
      });
      await fc.assert(
        fc.asyncProperty(fc.array(completion, { minLength: 2, maxLength: 6 }), async (ends) => {
          const names = ends.map((_, i) => `fm${++round}-${i}`);
          await register(store, names);
          const runs = (await store.claim(names.map((task) => request({ task, startAt: at(0) })), NOW)).map(started);
          for (let i = 0; i < ends.length; i++) {
            const early = ends[i]!.early;
            if (early !== null) await store.recordProgress({ runId: runs[i]!.id, fencingToken: runs[i]!.fencingToken ?? 0 }, asStored(early), at(1));
          }
          const completions = ends.map((e, i) =>
            end(runs[i]!, at(2), {
              status: e.status,
              output: asStored(e.output),
              error: e.error === null ? null : asStored(e.error),
              progress: e.progress === null ? null : asStored(e.progress),
              retryAt: e.retryIn === null ? null : at(2) + e.retryIn,
              fencingToken: (runs[i]!.fencingToken ?? 0) + (e.fenced ? 1_000 : 0),
            }),
          );
          const outcomes = await store.finishMany(completions, at(2));
          assert.equal(outcomes.length, ends.length);
          for (let i = 0; i < ends.length; i++) {
            const outcome = outcomes[i] as FinishOutcome;
            const stored = await store.getRun(runs[i]!.id);
            if (ends[i]!.fenced) {
              assert.equal(outcome.kind, 'fenced');
              assert.equal(stored?.status, 'running', 'a fenced end writes nothing');
              continue;
            }
            assert.equal(outcome.kind, 'recorded');
            assert.deepEqual((outcome as Extract<FinishOutcome, { kind: 'recorded' }>).run, stored, `record returned for ${names[i]} is the one stored`);
            assert.deepEqual(stored?.output, completions[i]!.output, 'the output reads back unchanged');
          }
        }),
        { numRuns: 40, seed: 20261208 },
      );
    });

    it('finishMany with the same run twice records the first end and fences the second, as finish would one after the other', async () => {
      await register(store, ['d0', 'd1']);
      const [a, b] = (await store.claim([request({ task: 'd0' }), request({ task: 'd1' })], NOW)).map(started);
      const outcomes = await store.finishMany(
        [end(a!, at(1), { output: 'first' }), end(b!, at(1)), end(a!, at(1), { output: 'second', status: 'failed' })],
        at(1),
      );
      assert.deepEqual(outcomes.map((o) => o.kind), ['recorded', 'recorded', 'fenced']);
      assert.deepEqual([(await store.getRun(a!.id))?.output, (await store.getRun(a!.id))?.status], ['first', 'succeeded']);
    });

    it('odd task names: set-based claims, unclaimed and finishMany agree with one-by-one semantics', async () => {
      const names = [...ODD_NAMES, ...Array.from({ length: 34 }, (_, i) => `pad-${i}`)];
      await register(store, names);
      const outcomes = await store.claim(names.map((task) => request({ task, instance: 'odd' })), NOW);
      const runs = outcomes.map(started);
      for (const run of runs) assert.deepEqual(await store.getRun(run.id), run, `claimed record of ${JSON.stringify(run.task.slice(0, 20))}`);
      const slots = names.map((task) => ({ task, slot: `t:${NOW}`, attempt: 1 }));
      assert.deepEqual(await store.unclaimed(slots), names.map(() => false), 'every claimed slot is seen as claimed');
      assert.deepEqual(await store.unclaimed(slots.map((s) => ({ ...s, attempt: 2 }))), names.map(() => true));
      assert.deepEqual((await store.claim(names.map((task) => request({ task, instance: 'other' })), NOW)).map((o) => o.kind), names.map(() => 'taken'), 'claimed again: taken');
      const ended = await store.finishMany(runs.map((r) => end(r, at(1), { output: r.task })), at(1));
      for (const [i, outcome] of ended.entries()) {
        assert.equal(outcome.kind, 'recorded', names[i]);
        const run = (outcome as Extract<FinishOutcome, { kind: 'recorded' }>).run;
        assert.equal(run.task, names[i], 'task name read back through a text[] reply');
        assert.deepEqual(await store.getRun(run.id), run);
      }
    });

    it('queued ticks within one finishMany: handed to the end that recorded its task, kept for a fenced one', async () => {
      await register(store, ['q1', 'q2', 'plain']);
      const [a1, a2, p] = (await store.claim([request({ task: 'q1', overlap: 'queue' }), request({ task: 'q2', overlap: 'queue' }), request({ task: 'plain' })], NOW)).map(started);
      const next = (task: string) => request({ task, overlap: 'queue', slot: `t:${at(60)}`, scheduledFor: at(60), dueAt: at(60) });
      assert.deepEqual((await store.claim([next('q1'), next('q2')], at(1))).map((o) => o.kind), ['queued', 'queued']);
      const outcomes = await store.finishMany([end(p!, at(2)), end(a2!, at(2), { fencingToken: 999 }), end(a1!, at(2))], at(2));
      assert.deepEqual(outcomes.map((o) => o.kind), ['recorded', 'fenced', 'recorded']);
      const handed = (o: FinishOutcome | undefined) => (o as Extract<FinishOutcome, { kind: 'recorded' }>).queued;
      assert.equal(handed(outcomes[0]), null, 'another task gets nothing');
      assert.deepEqual([handed(outcomes[2])?.task, handed(outcomes[2])?.slot], ['q1', `t:${at(60)}`]);
      // q2's end was fenced: its queued tick waits for the real end, which hands it over.
      const real = await store.finishMany([end(a2!, at(3)), end(p!, at(3))], at(3));
      assert.deepEqual([real[0]?.kind, handed(real[0])?.slot, real[1]?.kind], ['recorded', `t:${at(60)}`, 'fenced']);
    });

    it('two ends of one task in one finishMany leave the task\'s last run and last success as finish would, one after the other', async () => {
      await register(store, ['many']);
      const [older] = (await store.claim([request({ task: 'many', overlap: 'allow', maxConcurrent: 3 })], NOW)).map(started);
      const [newer] = (await store.claim([request({ task: 'many', overlap: 'allow', maxConcurrent: 3, slot: `t:${at(60)}`, scheduledFor: at(60), dueAt: at(60) })], at(1))).map(started);
      // The newer run ends first in the batch, the older one last.
      await store.finishMany([end(newer!, at(2), { output: 'newer' }), end(older!, at(2), { output: 'older' })], at(2));
      const state = (await store.listTasks()).find((t) => t.name === 'many');
      assert.deepEqual([state?.lastRun?.id, state?.lastSuccess?.runId], [older!.id, older!.id], 'the end written last is the last run (memory and SQLite; PostgreSQL takes the largest id)');
    });

    it('a claim batch records, for each request, the instance that request names', async () => {
      const names = Array.from({ length: 4 }, (_, i) => `inst-${i}`);
      await register(store, names);
      const outcomes = await store.claim(names.map((task, i) => request({ task, instance: `replica-${i}` })), NOW);
      for (const outcome of outcomes) {
        const run = started(outcome);
        assert.deepEqual((await store.getRun(run.id))?.instance, run.instance, `${run.task}: returned instance ${run.instance}`);
      }
    });
  });
}

describeHostile('memory', async () => ({ store: memoryStore(), close: async () => {} }));

describeHostile('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'caretaker-burst-hostile-'));
  return { store: sqliteStore({ path: join(dir, 'caretaker.db') }), close: async () => rmSync(dir, { recursive: true, force: true }) };
});

const skip = await postgresSkip();
let database: Awaited<ReturnType<typeof testDatabase>> | null = null;
let schemas = 0;
describe('PostgreSQL', { skip }, () => {
  before(async () => {
    database = await testDatabase();
  });
  after(async () => {
    await database?.drop();
  });

  describeHostile('postgres', async () => {
    if (database === null) throw new Error('no test database');
    return { store: postgresStore({ url: database.url, schema: `hostile_${++schemas}` }), close: async () => {} };
  });

  it('finishMany of 300 ends with outputs under the default size limit (64 KB of JSON records) never stalls the event loop for seconds', async () => {
    if (database === null) throw new Error('no test database');
    const store = postgresStore({ url: database.url, schema: 'hostile_stall' });
    await store.open();
    try {
      const names = Array.from({ length: 300 }, (_, i) => `stall-${String(i).padStart(3, '0')}`);
      await register(store, names);
      const runs = (await store.claim(names.map((task) => request({ task, leaseMs: 600_000 })), NOW)).map(started);
      // What a task reporting what it did returns: an array of small records, ~60 KB of JSON,
      // under the default maxOutputBytes (65,536), as the engine hands it over.
      const output = JSON.parse(JSON.stringify(Array.from({ length: 1_200 }, (_, i) => ({ id: `item-${i}`, status: 'ok', tags: ['a', 'b'] }))));
      assert.ok(JSON.stringify(output).length < 65_536);
      let last = performance.now();
      let longest = 0;
      const ticker = setInterval(() => {
        const now = performance.now();
        longest = Math.max(longest, now - last);
        last = now;
      }, 5);
      try {
        const outcomes = await store.finishMany(runs.map((run) => end(run, at(1), { output })), at(1));
        assert.ok(outcomes.every((o) => o.kind === 'recorded'));
      } finally {
        clearInterval(ticker);
      }
      // Before decision 025 each end was one JSON text parameter (~0.2 s of event-loop time for
      // these 300); the columnar jsonb[] parameter goes through pg's array-literal escaping, one
      // regex replacement per quote, seconds for a burst with the event loop blocked: no timer,
      // renewal or handler runs meanwhile (1,000 such ends: ~12-15 s, about a whole lease).
      assert.ok(longest < 1_000, `the event loop stalled for ${Math.round(longest)} ms writing 300 ends`);
    } finally {
      await store.close();
    }
  });

  it('claims, batched ends, chunked renewals and reaping polls from three replicas at once never deadlock and keep one run per slot', async () => {
    if (database === null) throw new Error('no test database');
    const stores = ['a', 'b', 'c'].map(() => postgresStore({ url: database!.url, schema: 'hostile_race' }));
    for (const s of stores) await s.open();
    const [a, , c] = stores as [Store, Store, Store];
    const random = seededRandom(20261208);
    try {
      const names = Array.from({ length: 120 }, (_, i) => `race-${String(i).padStart(3, '0')}`);
      await register(a, names);
      const modeOf = (i: number) => (['skip', 'allow', 'replace', 'queue'] as const)[i % 4]!;
      const reqFor = (task: string, tick: number, instance: string) => {
        const i = Number(task.slice(-3));
        return request({ task, instance, scheduledFor: tick, slot: `t:${tick}`, dueAt: tick, overlap: modeOf(i), maxConcurrent: modeOf(i) === 'allow' ? 2 : 1, leaseMs: 3_000 });
      };
      const held: RunRecord[][] = [[], [], []];
      let now = NOW;
      for (let round = 0; round < 8; round++) {
        const tick = NOW + round * 2_000;
        now = tick;
        // Every replica claims the same tick (in a different order), ends what it holds (in
        // random order), renews in chunks, and reaps; all at once.
        const shuffled = (xs: readonly RunRecord[]) => [...xs].sort(() => random() - 0.5);
        const work = stores.map(async (store, r) => {
          const order = r === 1 ? [...names].reverse() : r === 2 ? [...names].sort(() => random() - 0.5) : names;
          const claimed = store.claim(order.map((task) => reqFor(task, tick, `r${r}`)), now).then((outcomes) => {
            for (const o of outcomes) if (o.kind === 'started') held[r]!.push(o.run);
          });
          const ending = held[r]!.splice(0, Math.floor(held[r]!.length / 2));
          const ended = store.finishMany(shuffled(ending).map((run) => end(run, now)), now);
          const keep = shuffled(held[r]!);
          const renewed = (async () => {
            for (let i = 0; i < keep.length; i += 25) await store.renewLeases(keep.slice(i, i + 25).map((x) => ({ runId: x.id, fencingToken: x.fencingToken ?? 0 })), 3_000, now);
          })();
          const reaped = store.poll({ instance: `r${r}`, now: now + 2_500, pauseVersion: 0, retryGraceMs: 3_000, held: held[r]!.map((x) => x.id) });
          await Promise.all([claimed, ended, renewed, reaped]);
        });
        const results = await Promise.allSettled(work);
        const failures = results.filter((x) => x.status === 'rejected').map((x) => String((x as PromiseRejectedResult).reason));
        assert.deepEqual(failures, [], `round ${round}`);
      }
      const runs: RunRecord[] = [];
      for (let cursor: string | undefined, page; ; cursor = page.nextCursor ?? undefined) {
        page = await c.listRuns({ limit: 1_000, ...(cursor !== undefined ? { cursor } : {}) });
        runs.push(...page.runs);
        if (page.nextCursor === null) break;
      }
      const perSlot = new Map<string, number>();
      for (const r of runs) perSlot.set(`${r.task}|${r.slot}|${r.attempt}`, (perSlot.get(`${r.task}|${r.slot}|${r.attempt}`) ?? 0) + 1);
      assert.ok([...perSlot.values()].every((n) => n === 1), 'one record per (task, slot, attempt)');
    } finally {
      for (const s of stores) await s.close();
    }
  });

  it('a claim that throws claimed nothing: a mixed batch whose second statement fails leaves no run behind', async () => {
    if (database === null) throw new Error('no test database');
    const pool = new pg.Pool({ connectionString: database.url, max: 2 });
    pool.on('error', () => {});
    let failGeneralClaim = false;
    // A connection that drops (or a statement timeout, a deadlock victim) on the per-row claim.
    const faulty = {
      query: (text: string, values?: unknown[]) => {
        if (failGeneralClaim && text.includes('.caretaker_claim(')) return Promise.reject(new Error('Connection terminated unexpectedly (injected)'));
        return pool.query(text, values);
      },
      // Statements of a transaction go through a checked-out connection: it fails the same way.
      connect: async () => {
        const client = await pool.connect();
        const query = client.query as unknown as (this: unknown, text: string, values?: unknown[]) => Promise<unknown>;
        // Until it goes back to the pool, whose own query() calls it with a callback.
        (client as unknown as { query: unknown }).query = (text: string, values?: unknown[]) =>
          failGeneralClaim && text.includes('.caretaker_claim(') ? Promise.reject(new Error('Connection terminated unexpectedly (injected)')) : query.call(client, text, values);
        const release = client.release;
        client.release = (error?: Error | boolean) => {
          (client as unknown as { query: unknown }).query = query;
          client.release = release;
          release.call(client, error);
        };
        return client;
      },
    };
    const store = postgresStore({ pool: faulty, schema: 'hostile_split' });
    await store.open();
    try {
      const names = Array.from({ length: 40 }, (_, i) => `split-${String(i).padStart(2, '0')}`);
      await register(store, [...names, 'queued-task']);
      // A burst of plain ticks plus one claim that takes the per-row path (overlap queue).
      const batch = [...names.map((task) => request({ task })), request({ task: 'queued-task', overlap: 'queue' })];
      failGeneralClaim = true;
      await assert.rejects(store.claim(batch, NOW), /injected/);
      failGeneralClaim = false;
      const free = await store.unclaimed(batch.map((r) => ({ task: r.task, slot: r.slot, attempt: r.attempt })));
      const claimedAnyway = batch.filter((_, i) => free[i] !== true).map((r) => r.task);
      // The dispatcher puts a failed batch back in its queue and claims it again: each of these
      // comes back 'taken' (by this very instance, under the same run id), so its handler never
      // starts, and the row stays 'running' until a poll reaps it as interrupted.
      const again = await store.claim(batch, at(1));
      const takenByItself = again.flatMap((o, i) => (o.kind === 'taken' ? [batch[i]!.task] : []));
      assert.deepEqual(
        { claimedAnyway: claimedAnyway.length, takenByItself: takenByItself.length },
        { claimedAnyway: 0, takenByItself: 0 },
        'a claim that threw must not have claimed anything (the dispatcher retries it as unclaimed)',
      );
    } finally {
      await store.close();
      await pool.end();
    }
  });
});
