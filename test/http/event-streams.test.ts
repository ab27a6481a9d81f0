/**
 * The event stream under a client that stops reading: a real server, a real socket that is
 * paused after the request, and runs whose finished events carry large outputs, so the kernel's
 * socket buffers fill and the server's own queue for that client is what grows. Nothing depends on
 * speed: runs are triggered one at a time until the server has dropped the stalled client.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MAX_QUEUED_CHARS } from '../../src/http/events-route.ts';
import { type AdminApi, type AdminServer, createAdminApi, startAdminServer } from '../../src/http/index.ts';
import { createScheduler, type Scheduler } from '../../src/index.ts';
import { within } from '../dashboard/chromium.ts';
import { parsePrometheus, sampleValue } from '../helpers/prometheus.ts';
import { readEvents } from './support.ts';

/** Large enough that a few queued events pass the byte bound; 150 of them exceed any loopback socket buffers. */
const OUTPUT_CHARS = 200_000;
const MAX_RUNS = 150;

describe('GET /api/events with a client that stops reading (real server and socket)', () => {
  let scheduler: Scheduler;
  let api: AdminApi;
  let server: AdminServer;

  before(async () => {
    scheduler = createScheduler({ instance: 'sse-slow', maxOutputBytes: 4 * MAX_QUEUED_CHARS });
    scheduler.add({ name: 'big', schedule: { every: '1d', initialDelay: '1d' }, handler: () => ({ blob: 'x'.repeat(OUTPUT_CHARS) }) });
    await scheduler.start();
    api = createAdminApi({ scheduler, processMetrics: false, dashboard: false });
    server = await startAdminServer({ fetch: api.fetch, host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    api.close();
    await server.close();
    await scheduler.stop({ timeout: '1s' });
  });

  const metric = async (name: string) => sampleValue(parsePrometheus(await api.metrics.text()), name, {}) ?? Number.NaN;
  it('drops the stalled client (its stream ends) while a reading client keeps every event; the stalled one resumes with Last-Event-ID', { timeout: 120_000 }, async () => {
    // The stalled client: sends its request, reads the answer's head and first event, then stops reading.
    const stalled: Socket = connect(server.port, '127.0.0.1');
    let received = '';
    const firstEvent = new Promise<void>((resolve) => {
      const onData = (chunk: Buffer) => {
        received += chunk.toString('latin1');
        if (!received.includes('event: ready')) return;
        stalled.pause();
        stalled.off('data', onData);
        resolve();
      };
      stalled.on('data', onData);
    });
    const closed = new Promise<void>((resolve) => stalled.once('close', () => resolve()));
    stalled.on('error', () => {});
    stalled.write(`GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`);
    await firstEvent;

    // The reading client reads each run's events before the next run starts.
    const reader = readEvents(await fetch(new URL('api/events', server.url)));
    const ready = await reader.next();
    assert.equal(ready.event, 'ready');
    assert.equal(await metric('caretaker_sse_clients'), 2);
    let last = Number(ready.id);
    const finishedIds: number[] = [];
    let runs = 0;
    while ((await metric('caretaker_sse_clients_dropped_total')) === 0 && runs < MAX_RUNS) {
      await scheduler.trigger('big');
      for (let event = await reader.next(); ; event = await reader.next()) {
        assert.equal(Number(event.id), last + 1, 'the reading client gets every event, in order');
        last = Number(event.id);
        if (event.event !== 'run:finished') continue;
        finishedIds.push(last);
        break;
      }
      runs++;
    }
    assert.equal(await metric('caretaker_sse_clients_dropped_total'), 1, `the stalled client was not dropped after ${runs} runs of ${OUTPUT_CHARS} characters each`);
    assert.equal(await metric('caretaker_sse_clients'), 1, 'the reading client is still connected');

    // The server ended the stalled stream: once the client reads again, the connection closes.
    stalled.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    stalled.resume();
    await within(closed, 'the stalled connection to close', 10_000);
    const ids = [...received.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    const lastSeen = ids.at(-1) ?? Number(ready.id);
    assert.ok(lastSeen < last, 'the stalled client missed events');
    // What it missed is what the server held for it when it was dropped (plus the event in flight): the bound.
    const missed = finishedIds.filter((id) => id > lastSeen).length;
    assert.ok(missed * OUTPUT_CHARS <= MAX_QUEUED_CHARS + 3 * OUTPUT_CHARS, `${missed} large events were queued for the stalled client`);

    // Reconnecting from its last id replays what it missed from the log.
    const resumed = readEvents(await fetch(new URL('api/events', server.url), { headers: { 'Last-Event-ID': String(lastSeen) } }));
    assert.equal(Number((await resumed.next()).id), lastSeen + 1, 'fewer events than the log holds: a replay, not a reset');
  });

  it('a single event larger than the byte bound still reaches a reading client', { timeout: 30_000 }, async () => {
    const big = 'y'.repeat(MAX_QUEUED_CHARS + 1);
    scheduler.add({ name: 'huge', schedule: { every: '1d', initialDelay: '1d' }, handler: () => big });
    const reader = readEvents(await fetch(new URL('api/events', server.url)));
    await reader.next();
    const dropped = await metric('caretaker_sse_clients_dropped_total');
    await scheduler.trigger('huge');
    let event = await reader.next();
    while (event.event !== 'run:finished') event = await reader.next();
    assert.equal((JSON.parse(event.data) as { output: string }).output.length, big.length);
    assert.equal(await metric('caretaker_sse_clients_dropped_total'), dropped);
  });
});
