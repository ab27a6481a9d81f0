/**
 * A burst claimed whole before the peers settle (decision 035), on the dispatcher alone with a
 * store whose claims are answered by hand: chunks of at most 1,000, each replica's own share first
 * (priority still first), slots and idleness through failures and a stop, every chunk's leases as
 * long as one whole claim's, and a lone replica claiming in one statement.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Dispatcher, WHOLE_BURST_CHUNK } from '../../src/engine/dispatcher.ts';
import type { Job } from '../../src/engine/task-runtime.ts';
import type { ClaimOutcome, ClaimRequest } from '../../src/store/port.ts';

const NOW = 1_000_000;
const LEASE_MS = 15_000;
let seq = 0;

function job(name: string, options: { priority?: number; skip?: Job['skip']; shareHash?: number } = {}): Job {
  const runtime = { name, policy: { priority: options.priority ?? 0, maxConcurrent: 1, overlap: 'skip' }, shareHash: options.shareHash ?? seq, paused: false } as unknown as Job['runtime'];
  return {
    heapIndex: -1, runtime, runId: `run-${name}`, slot: `t:${NOW}`, trigger: 'schedule', scheduledFor: NOW, dueAt: NOW, attempt: 1,
    skip: options.skip ?? null, skippedTicks: 1, throughTick: null, causedBy: null, overlap: 'skip', seq: seq++, fromBacklog: false,
    claimSentAt: Number.NaN, claimLeaseMs: LEASE_MS, checkedShare: false,
  };
}

interface PendingClaim { readonly requests: readonly ClaimRequest[]; readonly resolve: (o: ClaimOutcome[]) => void; readonly reject: (e: unknown) => void }

/** A dispatcher of instance `a`; `unsettled`: the peers of the last poll, not yet settled. */
function setup(options: { concurrency?: number; peers?: string[]; unsettled?: string[] } = {}) {
  const calls: PendingClaim[] = [];
  const outcomes = new Map<string, ClaimOutcome['kind'][]>();
  let now = NOW;
  const dispatcher = new Dispatcher({
    store: { claim: (requests: readonly ClaimRequest[]) => new Promise<ClaimOutcome[]>((resolve, reject) => calls.push({ requests, resolve, reject })) } as never,
    timers: { after() {}, cancel() {}, atWall() {} } as never,
    instance: 'a',
    leaseMs: LEASE_MS,
    concurrency: options.concurrency ?? Number.POSITIVE_INFINITY,
    now: () => now,
    monotonic: () => now,
    onDispatch: () => {},
    onOutcome: (j, o) => outcomes.set(j.runId, [...(outcomes.get(j.runId) ?? []), o.kind]),
    onClaimError: () => {},
    peers: () => options.peers ?? [],
    unsettledPeers: () => options.unsettled ?? ['a', 'b'],
    reportError: () => {},
  });
  const flush = async () => {
    for (let i = 0; i < 20; i++) await Promise.resolve();
  };
  const answer = async (i: number, kind: 'started' | 'taken' | 'fail') => {
    const call = calls[i] as PendingClaim;
    if (kind === 'fail') call.reject(new Error('store down'));
    else call.resolve(call.requests.map((r): ClaimOutcome => (r.skip !== null ? { kind: 'skipped', run: {} as never } : kind === 'started' ? { kind: 'started', run: {} as never, lastSuccess: null, replaced: [] } : { kind: 'taken' })));
    await flush();
  };
  return { dispatcher, calls, outcomes, flush, answer, advance: (ms: number) => void (now += ms) };
}

const submitAll = (d: Dispatcher, jobs: readonly Job[]) => {
  for (const j of jobs) d.submit(j);
};

describe('a burst claimed whole before the peers settle (decision 035)', () => {
  it('goes in chunks of at most 1,000; a failed chunk puts the rest back; after recovery every job is claimed once and every slot is a started run', async () => {
    const s = setup();
    const jobs = [...Array.from({ length: 2_500 }, (_, i) => job(`t${i}`)), ...Array.from({ length: 40 }, (_, i) => job(`s${i}`, { skip: 'overlap' }))];
    submitAll(s.dispatcher, jobs);
    await s.flush();
    assert.equal(s.calls.length, 1);
    assert.equal(s.calls[0]?.requests.length, WHOLE_BURST_CHUNK);
    assert.equal(s.calls[0]?.requests.filter((r) => r.skip !== null).length, 40, 'skip records go first');
    await s.answer(0, 'started');
    assert.equal(s.calls.length, 2);
    await s.answer(1, 'fail');
    assert.equal(s.calls.length, 2, 'no chunk after a failure');
    assert.equal(s.dispatcher.queued, jobs.length - WHOLE_BURST_CHUNK, 'the failed chunk and the one after it are queued again');
    assert.equal(s.dispatcher.slotsInUse, WHOLE_BURST_CHUNK - 40);
    assert.equal(s.dispatcher.idle, false);
    s.dispatcher.resume();
    await s.flush();
    for (let i = 2; i < s.calls.length; i++) await s.answer(i, 'started');
    const claimed = new Map<string, number>();
    s.calls.forEach((c, i) => {
      if (i !== 1) for (const r of c.requests) claimed.set(r.runId, (claimed.get(r.runId) ?? 0) + 1);
    });
    assert.equal(claimed.size, jobs.length);
    assert.ok([...claimed.values()].every((n) => n === 1), 'a job claimed twice');
    assert.ok(s.calls.every((c) => c.requests.length <= WHOLE_BURST_CHUNK), `claims of ${s.calls.map((c) => c.requests.length).join(', ')}`);
    assert.equal(s.dispatcher.slotsInUse, 2_500, 'one slot per started run');
    assert.equal(s.dispatcher.idle, true);
  });

  it('is idle as soon as the last chunk is answered, even when every row was a peer\'s', async () => {
    const s = setup();
    submitAll(s.dispatcher, Array.from({ length: 1_500 }, (_, i) => job(`t${i}`)));
    await s.flush();
    await s.answer(0, 'taken');
    assert.equal(s.dispatcher.idle, false, 'a chunk is still to be sent or answered');
    await s.answer(1, 'taken');
    assert.equal(s.calls.length, 2);
    assert.equal(s.dispatcher.idle, true);
    assert.equal(s.dispatcher.slotsInUse, 0);
  });

  it('a stop hands back the chunks not yet sent (130,000 of them: no argument overflow) and sends nothing after', async () => {
    const s = setup();
    submitAll(s.dispatcher, Array.from({ length: 130_000 }, (_, i) => job(`t${i}`)));
    await s.flush();
    assert.equal(s.calls.length, 1);
    const dropped = s.dispatcher.close();
    assert.equal(dropped.length, 130_000 - WHOLE_BURST_CHUNK);
    assert.equal(new Set(dropped.map((j) => j.runId)).size, dropped.length);
    await s.answer(0, 'fail');
    assert.equal(s.calls.length, 1, 'nothing claimed after the stop');
    assert.equal(s.dispatcher.queued, 0, 'a chunk that failed after the stop is not queued again');
    assert.equal(s.dispatcher.idle, true, 'nothing is left waiting after the stop');
  });

  it('a stop while a chunk is in flight that then succeeds leaves nothing waiting: idle, and nothing sent after', async () => {
    const s = setup();
    submitAll(s.dispatcher, Array.from({ length: 2_500 }, (_, i) => job(`t${i}`)));
    await s.flush();
    assert.equal(s.dispatcher.close().length, 1_500);
    await s.answer(0, 'taken');
    assert.equal(s.calls.length, 1);
    assert.equal(s.dispatcher.idle, true);
  });

  it('held while chunking (another claim failed): the chunks not sent go back to the queue until resumed', async () => {
    const s = setup();
    submitAll(s.dispatcher, Array.from({ length: 2_500 }, (_, i) => job(`t${i}`)));
    await s.flush();
    s.dispatcher.hold();
    await s.answer(0, 'started');
    assert.equal(s.calls.length, 1, 'no chunk while held');
    assert.equal(s.dispatcher.queued, 1_500);
    s.dispatcher.resume();
    await s.flush();
    assert.equal(s.calls.length, 2);
  });

  it('each chunk\'s leases end when one claim of the whole burst\'s would have: the last chunk\'s ends are written last', async () => {
    const s = setup();
    submitAll(s.dispatcher, Array.from({ length: 10_000 }, (_, i) => job(`t${i}`)));
    await s.flush();
    const expiries: number[] = [];
    for (let k = 0; k < 10; k++) {
      const request = s.calls[k]?.requests[0] as ClaimRequest;
      expiries.push(NOW + k * 150 + request.leaseMs);
      s.advance(150);
      await s.answer(k, 'started');
    }
    assert.equal(s.calls.length, 10);
    assert.ok(expiries[0] as number > NOW + LEASE_MS, 'the burst is given time for its ends');
    assert.deepEqual(new Set(expiries).size, 1, `expiries ${expiries.map((e) => e - NOW).join(', ')}`);
  });

  it('every chunk asks for a lease of whole milliseconds, though elapsed time has fractions (PostgreSQL keeps it as a bigint)', async () => {
    const s = setup();
    submitAll(s.dispatcher, Array.from({ length: 3_000 }, (_, i) => job(`t${i}`)));
    await s.flush();
    for (let k = 0; k < 3; k++) {
      s.advance(123.456789);
      await s.answer(k, 'started');
    }
    const leases = s.calls.flatMap((c) => c.requests.map((r) => r.leaseMs));
    assert.equal(leases.length, 3_000);
    assert.deepEqual(leases.filter((ms) => !Number.isInteger(ms)), []);
  });

  it('its own share first, but by priority first: a peer\'s urgent jobs go before this replica\'s routine ones', async () => {
    const s = setup({ unsettled: ['a', 'b'] });
    // Hash even → 'a' owns it, odd → 'b'.
    submitAll(s.dispatcher, Array.from({ length: 300 }, (_, i) => job(`hi-b${i}`, { priority: 10, shareHash: 2 * i + 1 })));
    submitAll(s.dispatcher, Array.from({ length: 300 }, (_, i) => job(`hi-a${i}`, { priority: 10, shareHash: 2 * i })));
    submitAll(s.dispatcher, Array.from({ length: 1_200 }, (_, i) => job(`lo-${i % 2 === 0 ? 'a' : 'b'}${i}`, { shareHash: i })));
    await s.flush();
    const first = (s.calls[0] as PendingClaim).requests.map((r) => r.task);
    assert.deepEqual(first.slice(0, 600).map((t) => t.slice(0, 4)), [...Array(300).fill('hi-a'), ...Array(300).fill('hi-b')]);
    assert.deepEqual([...new Set(first.slice(600).map((t) => t.slice(0, 4)))], ['lo-a'], 'then its own routine jobs');
    await s.answer(0, 'started');
    const second = (s.calls[1] as PendingClaim).requests.map((r) => r.task.slice(0, 4));
    assert.deepEqual(second, [...Array(200).fill('lo-a'), ...Array(600).fill('lo-b')], 'the peer\'s routine jobs last');
  });

  it('a lone replica, or peers that have settled, claim in one statement', async () => {
    const lone = setup({ peers: [], unsettled: ['a'] });
    submitAll(lone.dispatcher, Array.from({ length: 1_500 }, (_, i) => job(`t${i}`)));
    await lone.flush();
    assert.deepEqual(lone.calls.map((c) => c.requests.length), [1_500]);
    const settled = setup({ peers: ['a'], unsettled: ['a'] });
    submitAll(settled.dispatcher, Array.from({ length: 1_500 }, (_, i) => job(`t${i}`)));
    await settled.flush();
    assert.deepEqual(settled.calls.map((c) => c.requests.length), [1_500]);
  });
});
