import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createScheduler, InvalidOptionError, memoryStore, sqliteStore, type NotifyEvent, type NotifyOptions } from '../../../src/index.ts';
import { NotifyDeliveryError } from '../../../src/notify/delivery-error.ts';
import { createTestClock } from '../../../src/testing/index.ts';
import { harness, type Harness, work } from '../../helpers.ts';

/** A channel that records what it was sent; `fail(n)` makes the next n attempts throw. */
function inbox() {
  const got: NotifyEvent[] = [];
  let failures: unknown[] = [];
  return {
    got,
    fail(...errors: unknown[]) {
      failures = errors;
    },
    channel: {
      send: async (event: NotifyEvent) => {
        const error = failures.shift();
        if (error !== undefined) throw error;
        got.push(event);
      },
    },
  };
}

describe('alerts (virtual time)', () => {
  it('failed after the last attempt only, once per channel; recovered at the next success; the record says delivered', async () => {
    const ops = inbox();
    const pager = inbox();
    const notify: NotifyOptions = {
      channels: { ops: ops.channel, pager: pager.channel },
      defaults: { on: ['failed', 'recovered'], channels: ['ops'] },
      tasks: { backup: { on: ['failed'], channels: ['ops', 'pager'] }, quiet: false },
    };
    const h = harness({ notify });
    let broken = true;
    h.scheduler.add({ name: 'report', schedule: { every: '1h' }, retry: { attempts: 3, backoff: '1m' }, handler: () => { if (broken) throw new Error('db down'); } });
    h.scheduler.add({ name: 'backup', schedule: { every: '1h' }, handler: () => { throw new Error('disk full'); } });
    h.scheduler.add({ name: 'quiet', schedule: { every: '1h' }, handler: () => { throw new Error('ignored'); } });
    await h.scheduler.start();
    await h.clock.advance(10 * 60_000);
    assert.deepEqual(ops.got.map((e) => [e.kind, e.task]).sort(), [['failed', 'backup'], ['failed', 'report']]);
    const report = ops.got.find((e) => e.task === 'report') as NotifyEvent;
    assert.equal(report.message, 'report failed after 3 attempts: db down');
    assert.equal(report.run?.attempt, 3, 'only the last attempt alerts');
    assert.deepEqual(pager.got.map((e) => e.task), ['backup']);
    broken = false;
    await h.clock.advance(60 * 60_000);
    const recovered = ops.got.filter((e) => e.kind === 'recovered');
    assert.deepEqual(recovered.map((e) => [e.task, e.id.startsWith('recovered:')]), [['report', true]]);
    // Another success is not a recovery.
    await h.clock.advance(60 * 60_000);
    assert.equal(ops.got.filter((e) => e.kind === 'recovered').length, 1);
    const page = await h.store.listNotifications({ limit: 100 });
    assert.ok(page.notifications.every((n) => n.status === 'delivered' && n.attempts === 1 && n.claimedBy === 'test'));
    assert.equal(page.notifications.filter((n) => n.task === 'quiet').length, 0, 'a task with false sends nothing');
    await h.scheduler.stop();
  });

  it('retries a failed delivery with backoff until delivered; a refused one fails at once; events say so', async () => {
    const ops = inbox();
    const strict = inbox();
    const h = harness({ notify: { channels: { ops: ops.channel, strict: strict.channel }, defaults: { on: ['failed'], channels: ['ops', 'strict'] }, retry: { attempts: 4, backoff: '30s' } } });
    const failed: { channel: string; attempt: number; final: boolean }[] = [];
    h.scheduler.on('notification:failed', (e) => failed.push({ channel: e.channel, attempt: e.attempt, final: e.final }));
    ops.fail(new Error('ECONNRESET'), new NotifyDeliveryError({ channel: 'ops', reason: 'status', retryable: true, message: 'HTTP 503', status: 503 }));
    strict.fail(new NotifyDeliveryError({ channel: 'strict', reason: 'status', retryable: false, message: 'HTTP 400', status: 400 }));
    h.scheduler.add({ name: 'job', schedule: { every: '1d' }, handler: () => { throw new Error('no'); } });
    await h.scheduler.start();
    await h.clock.advance(5 * 60_000);
    assert.equal(ops.got.length, 1, 'delivered on the third attempt');
    assert.equal(strict.got.length, 0);
    assert.deepEqual(failed, [
      { channel: 'ops', attempt: 1, final: false },
      { channel: 'strict', attempt: 1, final: true },
      { channel: 'ops', attempt: 2, final: false },
    ]);
    const byChannel = new Map((await h.store.listNotifications({})).notifications.map((n) => [n.channel, n]));
    assert.deepEqual([byChannel.get('ops')?.status, byChannel.get('ops')?.attempts], ['delivered', 3]);
    assert.deepEqual([byChannel.get('strict')?.status, byChannel.get('strict')?.lastError], ['failed', 'channel "strict": HTTP 400']);
    await h.scheduler.stop();
  });

  it('gives up after the last attempt; a channel that hangs never delays a run', async () => {
    const hang = { send: (_e: NotifyEvent, signal: AbortSignal) => new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))) };
    const flaky = inbox();
    const h = harness({ notify: { channels: { hang, flaky: flaky.channel }, defaults: { on: ['failed'], channels: ['hang', 'flaky'] }, retry: { attempts: 2, backoff: '10s' } } });
    flaky.fail(new Error('a'), new Error('b'), new Error('c'));
    h.scheduler.add({ name: 'tick', schedule: { every: '1m' }, handler: () => { throw new Error('bad'); } });
    await h.scheduler.start();
    await h.clock.advance(5 * 60_000 + 1);
    assert.equal(h.finished.length, 6, 'every tick ran on time while alerts hung');
    assert.ok(h.finished.every((r) => (r.latenessMs ?? Infinity) < 100));
    const flakyRecords = (await h.store.listNotifications({ limit: 100 })).notifications.filter((n) => n.channel === 'flaky');
    assert.ok(flakyRecords.some((n) => n.status === 'failed' && n.attempts === 2 && n.lastError === 'channel "flaky": b'), JSON.stringify(flakyRecords.map((n) => [n.status, n.attempts, n.lastError])));
    const stopping = h.scheduler.stop({ timeout: '5s' });
    await h.clock.advance(10_000);
    await stopping;
    // The hung deliveries were aborted at the stop and left due for another instance.
    const hung = (await h.store.listNotifications({ limit: 100 })).notifications.filter((n) => n.channel === 'hang');
    assert.ok(hung.length > 0 && hung.every((n) => n.status === 'pending' && n.claimedBy === null));
  });

  it('missed: ticks of downtime that catch-up does not run; stale: no success within staleAfter, once per last success', async () => {
    const ops = inbox();
    const dir = mkdtempSync(join(tmpdir(), 'caretaker-alerts-'));
    try {
      const clock = createTestClock({ start: '2026-01-01T00:00:00Z' });
      const store = () => sqliteStore({ path: join(dir, 'state.db') });
      const notify: NotifyOptions = { channels: { ops: ops.channel }, defaults: { on: ['missed', 'stale'], channels: ['ops'] } };
      let ok = false;
      const make = () => {
        const h = harness({ clock, store: store(), notify, pollInterval: '5m' });
        h.scheduler.add({ name: 'hourly', schedule: { every: '1h' }, catchUp: 'none', staleAfter: '3h', handler: () => { if (!ok) throw new Error('nope'); } });
        return h;
      };
      const first = make();
      await first.scheduler.start();
      await clock.advance(30 * 60_000);
      await first.scheduler.stop();
      await clock.advance(5 * 3_600_000);
      const second = make();
      await second.scheduler.start();
      await clock.advance(60_000);
      const missed = ops.got.filter((e) => e.kind === 'missed');
      assert.equal(missed.length, 1);
      assert.match(missed[0]?.message ?? '', /^hourly missed 5 ticks from 2026-01-01T01:00:00.000Z/);
      await clock.advance(3 * 3_600_000 + 10 * 60_000);
      const stale = ops.got.filter((e) => e.kind === 'stale');
      assert.deepEqual(stale.map((e) => e.id), ['stale:hourly:never'], 'once, however often it is checked');
      ok = true;
      await clock.advance(3_600_000);
      ok = false;
      await clock.advance(4 * 3_600_000);
      const again = ops.got.filter((e) => e.kind === 'stale');
      assert.equal(again.length, 2, 'a new episode after a success');
      assert.match(again[1]?.message ?? '', /has not succeeded for 3h/);
      await second.scheduler.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('two replicas on one SQLite file deliver each alert once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'caretaker-alerts-'));
    try {
      const clock = createTestClock({ start: '2026-01-01T00:00:00Z' });
      const ops = inbox();
      const make = (instance: string) => {
        const h = harness({ clock, store: sqliteStore({ path: join(dir, 'state.db') }), instance, pollInterval: '1s', notify: { channels: { ops: ops.channel }, defaults: { on: ['failed'], channels: ['ops'] } } });
        h.scheduler.add({ name: 'flaky', schedule: { every: '1m' }, handler: work(clock, 1_000, null) });
        h.scheduler.add({ name: 'bad', schedule: { every: '1m' }, handler: () => { throw new Error('always'); } });
        return h;
      };
      const [a, b] = [make('a'), make('b')] as [Harness, Harness];
      await a.scheduler.start();
      await b.scheduler.start();
      // Ends between runs (1 s each, every minute): nothing runs at the stop.
      await clock.advance(10 * 60_000 + 5_000);
      const ids = ops.got.map((e) => e.id);
      assert.equal(ids.length, 11);
      assert.equal(new Set(ids).size, ids.length, 'no alert twice');
      const claimants = new Set((await a.store.listNotifications({ limit: 100 })).notifications.map((n) => n.claimedBy));
      assert.ok([...claimants].every((c) => c === 'a' || c === 'b'));
      await a.scheduler.stop();
      await b.scheduler.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a store that fails to record an alert is retried: the alert is not lost', async () => {
    const ops = inbox();
    const store = memoryStore();
    const enqueue = store.enqueueNotifications.bind(store);
    let failures = 2;
    store.enqueueNotifications = (items, now) => (failures-- > 0 ? Promise.reject(new Error('connection reset')) : enqueue(items, now));
    const h = harness({ store, notify: { channels: { ops: ops.channel }, defaults: { on: ['failed'], channels: ['ops'] } } });
    h.scheduler.add({ name: 'job', schedule: { every: '1d' }, handler: () => { throw new Error('no'); } });
    await h.scheduler.start();
    await h.clock.advance(60_000);
    assert.equal(ops.got.length, 1);
    assert.equal(h.errors.length, 2, 'each failed write reported');
    await h.scheduler.stop();
  });

  it('a receiver that asks to wait (Retry-After) is left alone that long, uncounted; few deliveries per channel at once; a hung channel holds only its own', async () => {
    let inFlight = 0;
    let most = 0;
    let refusals = 0;
    const slow = {
      send: async (event: NotifyEvent) => {
        inFlight++;
        most = Math.max(most, inFlight);
        await Promise.resolve();
        inFlight--;
        // Rate-limited: every third request is refused with "retry after 30 s".
        if (Number(event.task.slice(1)) % 3 === 0 && refusals++ < 20) throw new NotifyDeliveryError({ channel: 'slow', reason: 'status', retryable: true, message: 'HTTP 429', status: 429, retryAfterMs: 30_000 });
      },
    };
    const hang = { send: (_e: NotifyEvent, signal: AbortSignal) => new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))) };
    const fast = inbox();
    const h = harness({ notify: { channels: { slow, hang, fast: fast.channel }, defaults: { on: ['failed'], channels: ['slow', 'hang', 'fast'] }, retry: { attempts: 2 } } });
    for (let i = 0; i < 60; i++) h.scheduler.add({ name: `t${i}`, schedule: { every: '1d' }, handler: () => { throw new Error('no'); } });
    await h.scheduler.start();
    await h.clock.advance(60_000);
    assert.equal(fast.got.length, 60, 'the fast channel got everything while the hung one held its own slots');
    // Each refusal holds the whole channel for its 30 s: 20 of them, 10 minutes.
    await h.clock.advance(15 * 60_000);
    assert.ok(most <= 4, `at most 4 deliveries to one channel at once (saw ${most})`);
    const slowRecords = (await h.store.listNotifications({ limit: 1000 })).notifications.filter((n) => n.channel === 'slow');
    assert.equal(slowRecords.filter((n) => n.status === 'delivered').length, 60, 'every refused one delivered after its wait, attempts not used up');
    assert.ok(slowRecords.every((n) => n.attempts === 1), `a wait asked for does not count as an attempt: ${JSON.stringify(slowRecords.filter((n) => n.attempts !== 1).map((n) => [n.task, n.attempts, n.lastError]))}`);
    const stopping = h.scheduler.stop({ timeout: '1s' });
    await h.clock.advance(2_000);
    await stopping;
  });

  it('no alerts from backfill runs; no stale alert right after a long pause; recovered sees past many skip records', async () => {
    const ops = inbox();
    const h = harness({ startAt: '2026-01-03T00:00:00Z', notify: { channels: { ops: ops.channel }, defaults: { on: ['failed', 'recovered', 'stale'], channels: ['ops'] } } });
    let broken = true;
    h.scheduler.add({ name: 'job', schedule: { every: '1h' }, staleAfter: '3h', handler: () => { if (broken) throw new Error('no'); } });
    h.scheduler.add({ name: 'tick', schedule: { every: '1m' }, overlap: 'skip', handler: () => {} });
    await h.scheduler.start();
    await h.scheduler.pause('job');
    await h.scheduler.backfill('job', { from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' });
    await h.clock.advance(60_000);
    await h.scheduler.resume('job');
    await h.clock.advance(90 * 60_000);
    assert.equal((await h.scheduler.backfills())[0]?.progress.failed, 25, 'the backfill ran (and failed)');
    assert.deepEqual(ops.got.map((e) => e.kind), ['failed'], 'one alert: the live tick after the resume, none for 25 backfilled ones');
    // Paused for a day: 24 ticks recorded skipped (paused) between the failure and the fix.
    await h.scheduler.pause('job');
    await h.clock.advance(24 * 3_600_000);
    broken = false;
    await h.scheduler.resume('job');
    await h.clock.advance(2 * 3_600_000);
    assert.deepEqual(ops.got.map((e) => e.kind), ['failed', 'recovered'], 'no stale alert for a task that was paused; recovered after the skips');
    await h.scheduler.stop();
  });

  it('bad notify options are refused naming the path', () => {
    const refused = (notify: unknown, pattern: RegExp) =>
      assert.throws(() => createScheduler({ store: memoryStore(), notify: notify as NotifyOptions }), (e: unknown) => e instanceof InvalidOptionError && pattern.test(e.message), String(pattern));
    refused({ channels: { ops: { webhook: { url: 'ftp://x' } } } }, /notify\.channels\.ops\.webhook\.url/);
    refused({ channels: { ops: { send: async () => {} } }, defaults: { on: ['failed'], channels: ['opz'] } }, /notify\.defaults\.channels/);
    refused({ channels: { ops: { send: async () => {} } }, defaults: { on: ['exploded'], channels: ['ops'] } }, /notify\.defaults\.on/);
    refused({ channels: {}, retry: { backoff: 'soon' } }, /notify\.retry\.backoff/);
  });
});
