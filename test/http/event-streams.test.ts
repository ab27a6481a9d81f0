/**
 * The event stream's per-client bound, on a real server and real sockets.
 *
 * A client that stops reading: its socket is paused after the request, and runs whose finished
 * events carry large outputs fill the kernel's socket buffers, so the server's own queue for that
 * client is what grows. Runs are triggered one at a time until the server has dropped it; the time
 * a write has waited is read from a clock the test moves, so nothing depends on speed.
 *
 * A client that reads: hundreds or thousands of tasks due at one instant queue their events in one
 * turn, before its writer has a chance; it must get every one of them.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Hono } from 'hono';
import { EventLog } from '../../src/http/event-log.ts';
import { EventStreams, HARD_MAX_QUEUED_CHARS, MAX_QUEUED_CHARS, STALL_MS } from '../../src/http/events-route.ts';
import { type AdminServer, createAdminApi, startAdminServer } from '../../src/http/index.ts';
import { createScheduler, type Scheduler } from '../../src/index.ts';
import { within } from '../dashboard/chromium.ts';
import { parsePrometheus, sampleValue } from '../helpers/prometheus.ts';
import { readEvents } from './support.ts';

/** Large enough that a few queued events pass the character bound; 250 of them exceed the hard bound and any loopback socket buffers. */
const OUTPUT_CHARS = 200_000;
const MAX_RUNS = 250;

describe('GET /api/events with a client that stops reading (real server and socket)', () => {
  let scheduler: Scheduler;
  let log: EventLog;
  let streams: EventStreams;
  let server: AdminServer;
  /** The streams' clock: moved by the test only. */
  let now = 0;

  before(async () => {
    scheduler = createScheduler({ instance: 'sse-slow', maxOutputBytes: 4 * MAX_QUEUED_CHARS });
    scheduler.add({ name: 'big', schedule: { every: '1d', initialDelay: '1d' }, handler: () => ({ blob: 'x'.repeat(OUTPUT_CHARS) }) });
    await scheduler.start();
    log = new EventLog(scheduler);
    streams = new EventStreams(log, scheduler.instance, { now: () => now });
    const app = new Hono().get('/api/events', (c) => streams.respond(c));
    server = await startAdminServer({ fetch: app.fetch, host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    streams.close();
    log.close();
    await server.close();
    await scheduler.stop({ timeout: '1s' });
  });

  /** A client that reads the answer's head and first event, then stops reading. */
  async function stalledClient() {
    const socket: Socket = connect(server.port, '127.0.0.1');
    let received = '';
    const firstEvent = new Promise<void>((resolve) => {
      const onData = (chunk: Buffer) => {
        received += chunk.toString('latin1');
        if (!received.includes('event: ready')) return;
        socket.pause();
        socket.off('data', onData);
        resolve();
      };
      socket.on('data', onData);
    });
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});
    socket.write(`GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`);
    await firstEvent;
    return {
      /** Reads again until the server's end of the connection; the ids of the events it got. */
      async drain(): Promise<number[]> {
        socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
        socket.resume();
        await within(closed, 'the stalled connection to close', 10_000);
        return [...received.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
      },
      destroy: () => socket.destroy(),
    };
  }

  /**
   * Triggers runs one at a time, `tick` moving the clock before each, until the server has dropped
   * a client; a reading client reads each run's events before the next starts. The ids of the
   * finished events and of the last event read.
   */
  async function runUntilDropped(tick: () => void): Promise<{ finishedIds: number[]; last: number; ready: number }> {
    const reader = readEvents(await fetch(new URL('api/events', server.url)));
    const ready = await reader.next();
    assert.equal(ready.event, 'ready');
    const dropped = streams.dropped;
    let last = Number(ready.id);
    const finishedIds: number[] = [];
    for (let runs = 0; streams.dropped === dropped; runs++) {
      assert.ok(runs < MAX_RUNS, `no client was dropped after ${runs} runs of ${OUTPUT_CHARS} characters each`);
      tick();
      await scheduler.trigger('big');
      for (let event = await reader.next(); ; event = await reader.next()) {
        assert.equal(Number(event.id), last + 1, 'the reading client gets every event, in order');
        last = Number(event.id);
        if (event.event !== 'run:finished') continue;
        finishedIds.push(last);
        break;
      }
    }
    assert.equal(streams.dropped, dropped + 1);
    assert.equal(streams.open, 1, 'the reading client is still connected');
    await reader.cancel();
    return { finishedIds, last, ready: Number(ready.id) };
  }

  it('drops a client over the bound whose write has waited STALL_MS, while a reading client keeps every event; the dropped one resumes with Last-Event-ID', { timeout: 120_000 }, async () => {
    const stalled = await stalledClient();
    try {
      // Each run comes STALL_MS after the one before: a write still waiting at the next run has waited that long.
      const { finishedIds, last, ready } = await runUntilDropped(() => (now += STALL_MS));
      const ids = await stalled.drain();
      const lastSeen = ids.at(-1) ?? ready;
      assert.ok(lastSeen < last, 'the stalled client missed events');
      // What it missed is what the server held for it when it was dropped (plus the event in flight): the bound.
      const missed = finishedIds.filter((id) => id > lastSeen).length;
      assert.ok(missed * OUTPUT_CHARS <= MAX_QUEUED_CHARS + 3 * OUTPUT_CHARS, `${missed} large events were queued for the stalled client`);

      // Reconnecting from its last id replays what it missed from the log.
      const resumed = readEvents(await fetch(new URL('api/events', server.url), { headers: { 'Last-Event-ID': String(lastSeen) } }));
      assert.equal(Number((await resumed.next()).id), lastSeen + 1, 'fewer events than the log holds: a replay, not a reset');
      await resumed.cancel();
    } finally {
      stalled.destroy();
    }
  });

  it('drops a client over the hard bound at once, though its write has not waited STALL_MS', { timeout: 120_000 }, async () => {
    const stalled = await stalledClient();
    try {
      const { finishedIds, ready } = await runUntilDropped(() => {});
      const lastSeen = (await stalled.drain()).at(-1) ?? ready;
      const missed = finishedIds.filter((id) => id > lastSeen).length;
      assert.ok(missed * OUTPUT_CHARS > MAX_QUEUED_CHARS + 3 * OUTPUT_CHARS, `dropped with only ${missed} large events queued: the soft bound alone dropped it`);
      assert.ok(missed * OUTPUT_CHARS <= HARD_MAX_QUEUED_CHARS + 3 * OUTPUT_CHARS, `${missed} large events were queued for the stalled client`);
    } finally {
      stalled.destroy();
    }
  });

  it('a single event larger than the character bound still reaches a reading client', { timeout: 30_000 }, async () => {
    const big = 'y'.repeat(MAX_QUEUED_CHARS + 1);
    scheduler.add({ name: 'huge', schedule: { every: '1d', initialDelay: '1d' }, handler: () => big });
    const reader = readEvents(await fetch(new URL('api/events', server.url)));
    await reader.next();
    const dropped = streams.dropped;
    await scheduler.trigger('huge');
    let event = await reader.next();
    while (event.event !== 'run:finished') event = await reader.next();
    assert.equal((JSON.parse(event.data) as { output: string }).output.length, big.length);
    assert.equal(streams.dropped, dropped);
    await reader.cancel();
  });
});

describe('GET /api/events with a client that reads, when many tasks are due at one instant', () => {
  for (const tasks of [300, 2_000]) {
    it(`${tasks} tasks: the client gets all ${2 * tasks} run events, in order, and is not dropped`, { timeout: 60_000 }, async () => {
      const scheduler = createScheduler({ instance: `sse-burst-${tasks}` });
      // Far enough ahead for the client to connect first; the scheduler starts them all at that instant.
      const due = new Date(Date.now() + 1_500);
      for (let i = 0; i < tasks; i++) scheduler.add({ name: `t${i}`, schedule: { at: due }, handler: () => i });
      const api = createAdminApi({ scheduler, processMetrics: false, dashboard: false });
      const server = await startAdminServer({ fetch: api.fetch, host: '127.0.0.1', port: 0 });
      try {
        const reader = readEvents(await fetch(new URL('api/events', server.url)));
        const ready = await reader.next();
        assert.equal(ready.event, 'ready');
        await scheduler.start();
        let last = Number(ready.id);
        let finished = 0;
        while (finished < tasks) {
          const event = await reader.next();
          assert.equal(Number(event.id), last + 1, 'every event, in order');
          last = Number(event.id);
          if (event.event === 'run:finished') finished++;
        }
        const metrics = parsePrometheus(await api.metrics.text());
        assert.equal(sampleValue(metrics, 'caretaker_sse_clients_dropped_total', {}), 0);
        assert.equal(sampleValue(metrics, 'caretaker_sse_clients', {}), 1);
        await reader.cancel();
      } finally {
        api.close();
        await server.close();
        await scheduler.stop({ timeout: '1s' });
      }
    });
  }
});
