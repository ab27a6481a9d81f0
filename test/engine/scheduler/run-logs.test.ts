import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createScheduler, InvalidOptionError, memoryStore, type Store } from '../../../src/index.ts';
import type { LogLine } from '../../../src/store/records.ts';
import type { Logger } from '../../../src/util/logger.ts';
import { harness, runsOf } from '../../helpers.ts';

/** A pino-like logger that remembers every call, with the fields its children bound. */
function capturingLogger(calls: { level: string; fields: unknown; message: unknown }[], bound: object = {}): Logger {
  const at = (level: string) => (fields: object, message: string) => calls.push({ level, fields: typeof fields === 'string' ? fields : { ...bound, ...fields }, message });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (f) => capturingLogger(calls, { ...bound, ...f }) };
}

const texts = (lines: readonly LogLine[]) => lines.map((l) => `${l.seq} ${l.level} ${l.message}${l.fields === null ? '' : ` ${JSON.stringify(l.fields)}`}`);

describe('run logs (virtual time)', () => {
  it('keeps what a handler logs through ctx.logger and ctx.log with the run; the scheduler\'s logger still gets ctx.logger lines', async () => {
    const calls: { level: string; fields: unknown; message: unknown }[] = [];
    const h = harness({ logger: capturingLogger(calls) });
    h.scheduler.add({
      name: 'vacuum',
      schedule: { every: '1h' },
      handler: (ctx) => {
        ctx.logger.info({ table: 'sessions' }, 'vacuuming');
        (ctx.logger.warn as unknown as (message: string) => void)('pino style: a message alone');
        ctx.logger.child({ phase: 'analyze' }).error({ err: new Error('lock timeout') }, 'analyze failed');
        ctx.log('a line for the run only', 'debug');
        return { ok: true };
      },
    });
    await h.scheduler.start();
    await h.clock.advance(1_000);
    const [run] = await runsOf(h.scheduler, 'vacuum');
    assert.equal(run?.status, 'succeeded');
    const log = await h.scheduler.runLog(run?.id ?? '');
    const lines = log?.lines ?? [];
    assert.deepEqual(texts(lines.filter((l) => l.seq !== 3)), ['1 info vacuuming {"table":"sessions"}', '2 warn pino style: a message alone', '4 debug a line for the run only']);
    const error = lines[2];
    assert.deepEqual([error?.message, (error?.fields as { phase?: string }).phase], ['analyze failed', 'analyze']);
    const err = (error?.fields as { err?: { name: string; message: string; stack: string } }).err;
    assert.deepEqual([err?.name, err?.message], ['Error', 'lock timeout']);
    assert.match(err?.stack ?? '', /^Error: lock timeout\n\s+at /);
    assert.equal(log?.dropped, 0);
    assert.ok(log?.lines.every((l) => l.at.getTime() === run?.startedAt?.getTime()));
    // ctx.log is the run's alone; the rest went to the scheduler's logger too, with the run bound.
    const ofRun = calls.filter((c) => typeof c.fields === 'string' || (c.fields as { runId?: string }).runId === run?.id);
    assert.deepEqual(ofRun.map((c) => c.level), ['info', 'warn', 'error']);
    assert.equal((ofRun[0]?.fields as { table?: string }).table, 'sessions');
    await h.scheduler.stop();
  });

  it('streams lines while the run goes on: a run:log event and a store write each flush interval, each line once', async () => {
    const h = harness({ runLogs: { flushInterval: '2s' } });
    const events: { runId: string; lines: readonly LogLine[] }[] = [];
    h.scheduler.on('run:log', (e) => events.push(e));
    h.scheduler.add({
      name: 'copy',
      schedule: { every: '1h' },
      handler: async (ctx) => {
        for (let i = 1; i <= 5; i++) {
          ctx.logger.info({}, `chunk ${i}`);
          await h.clock.sleep(1_000, ctx.signal);
        }
      },
    });
    await h.scheduler.start();
    await h.clock.advance(2_500);
    const [running] = await runsOf(h.scheduler, 'copy');
    assert.equal(running?.status, 'running');
    // The first flush came 2 s after the first line: what was logged by then is in the store.
    const soFar = (await h.scheduler.runLog(running?.id ?? ''))?.lines.map((l) => l.message) ?? [];
    assert.ok(soFar.length >= 2 && soFar.length < 5, `written while it runs: ${soFar}`);
    assert.deepEqual(soFar, ['chunk 1', 'chunk 2', 'chunk 3', 'chunk 4'].slice(0, soFar.length));
    await h.clock.advance(10_000);
    assert.equal((await runsOf(h.scheduler, 'copy'))[0]?.status, 'succeeded');
    assert.deepEqual((await h.scheduler.runLog(running?.id ?? ''))?.lines.map((l) => l.message), ['chunk 1', 'chunk 2', 'chunk 3', 'chunk 4', 'chunk 5']);
    assert.deepEqual(events.flatMap((e) => e.lines.map((l) => l.seq)), [1, 2, 3, 4, 5], 'every line in one event, once');
    assert.ok(events.length >= 2 && events.every((e) => e.runId === running?.id));
    await h.scheduler.stop();
  });

  it('keeps the end of a long log within maxBytes, counting what it dropped; lines after the run ended are not kept', async () => {
    const h = harness({ runLogs: { maxBytes: '2KiB' } });
    let late: (() => void) | null = null;
    h.scheduler.add({
      name: 'chatty',
      schedule: { every: '1h' },
      timeout: '5s',
      handler: async (ctx) => {
        for (let i = 1; i <= 500; i++) ctx.logger.info({}, `line ${i} ${'x'.repeat(20)}`);
        late = () => ctx.logger.info({}, 'after the end');
        // Ignores its signal: abandoned after the timeout and its grace.
        await h.clock.sleep(60_000);
      },
    });
    await h.scheduler.start();
    await h.clock.advance(30_000);
    const [run] = await runsOf(h.scheduler, 'chatty');
    assert.equal(run?.status, 'timed_out');
    (late as (() => void) | null)?.();
    await h.clock.advance(5_000);
    const log = await h.scheduler.runLog(run?.id ?? '');
    const lines = log?.lines ?? [];
    assert.equal(lines.at(-1)?.message, `line 500 ${'x'.repeat(20)}`, 'the end is kept');
    assert.equal((log?.dropped ?? 0) + lines.length, 500);
    assert.equal(lines[0]?.seq, (log?.dropped ?? 0) + 1);
    assert.ok(JSON.stringify(lines).length < 3 * 1024 && lines.length > 10, `${lines.length} lines, ${JSON.stringify(lines).length} bytes`);
    await h.scheduler.stop({ timeout: 0 });
  });

  it('runLogs: false keeps nothing; a store that refuses logs costs the run nothing and is reported', async () => {
    const off = harness({ runLogs: false });
    off.scheduler.add({ name: 'quiet', schedule: { every: '1h' }, handler: (ctx) => ctx.logger.info({}, 'not kept') });
    await off.scheduler.start();
    await off.clock.advance(5_000);
    const [run] = await runsOf(off.scheduler, 'quiet');
    assert.equal(await off.scheduler.runLog(run?.id ?? ''), null);
    await off.scheduler.stop();

    const store: Store = memoryStore();
    const failing: Store = new Proxy(store, {
      get: (target, key) => {
        if (key === 'saveRunLogs') return () => Promise.reject(new Error('disk full'));
        const value: unknown = Reflect.get(target, key);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const h = harness({ store: failing });
    h.scheduler.add({ name: 'loud', schedule: { every: '1h' }, handler: (ctx) => ctx.logger.info({}, 'lost') });
    await h.scheduler.start();
    await h.clock.advance(5_000);
    assert.equal((await runsOf(h.scheduler, 'loud'))[0]?.status, 'succeeded');
    assert.match(String(h.errors[0]), /disk full/);
    await h.scheduler.stop();
  });

  it('any sequence of lines keeps a suffix within the budget, in order, with the count dropped (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ message: fc.string({ maxLength: 300 }), level: fc.constantFrom('debug', 'info', 'warn', 'error' as const), wait: fc.integer({ min: 0, max: 1_500 }) }), { maxLength: 60 }),
        fc.integer({ min: 200, max: 4_000 }),
        async (writes, maxBytes) => {
          const h = harness({ runLogs: { maxBytes, flushInterval: '1s' } });
          h.scheduler.add({
            name: 'any',
            schedule: { every: '1h' },
            handler: async (ctx) => {
              for (const w of writes) {
                ctx.logger[w.level]({}, w.message);
                await h.clock.sleep(w.wait, ctx.signal);
              }
            },
          });
          await h.scheduler.start();
          await h.clock.advance(120_000);
          const [run] = await runsOf(h.scheduler, 'any');
          const log = await h.scheduler.runLog(run?.id ?? '');
          await h.scheduler.stop();
          if (writes.length === 0) return assert.equal(log, null);
          const kept = log?.lines ?? [];
          const written = writes.map((w, i) => ({ seq: i + 1, level: w.level, message: w.message }));
          assert.deepEqual(kept.map((l) => ({ seq: l.seq, level: l.level, message: l.message })), written.slice(log?.dropped ?? 0), 'the newest lines, in order');
          assert.ok(kept.length >= 1, 'the last line always stays');
          const bytes = kept.reduce((n, l) => n + 48 + l.message.length, 0);
          assert.ok(kept.length === 1 || bytes <= maxBytes, `${bytes} > ${maxBytes}`);
        },
      ),
      { numRuns: 40, seed: 20261207 },
    );
  });

  it('reads pino-style calls as pino does, passes every argument on, and never throws at a handler over its fields (hostile review)', async () => {
    const calls: unknown[][] = [];
    const base: Logger = {
      debug: (...a: unknown[]) => calls.push(a),
      info: (...a: unknown[]) => calls.push(a),
      warn: (...a: unknown[]) => calls.push(a),
      error: (...a: unknown[]) => calls.push(a),
      child: () => base,
    } as unknown as Logger;
    const h = harness({ logger: base });
    h.scheduler.add({
      name: 'pino',
      schedule: { every: '1h' },
      handler: (ctx) => {
        const log = ctx.logger as unknown as Record<string, (...a: unknown[]) => void>;
        log.error?.(new Error('disk full'));
        log.info?.({ msg: 'from msg', rows: 2 });
        log.info?.({}, 'copied %d files to %s', 12, '/backup');
        const hostile = { get boom(): never { throw new Error('getter'); } };
        log.warn?.(hostile, 'still kept');
        ctx.logger.child(hostile).info({}, 'child of a hostile object');
        ctx.log(42 as unknown as string, 'WARNING' as never);
      },
    });
    await h.scheduler.start();
    await h.clock.advance(1_000);
    const [run] = await runsOf(h.scheduler, 'pino');
    assert.equal(run?.status, 'succeeded', JSON.stringify(run?.error));
    const lines = (await h.scheduler.runLog(run?.id ?? ''))?.lines ?? [];
    assert.deepEqual(lines.map((l) => [l.level, l.message]), [['error', 'disk full'], ['info', 'from msg'], ['info', 'copied %d files to %s'], ['warn', 'still kept'], ['info', 'child of a hostile object'], ['warn', '42']]);
    assert.equal((lines[0]?.fields as { err?: { message: string } }).err?.message, 'disk full');
    assert.deepEqual(lines[1]?.fields, { rows: 2 });
    assert.deepEqual(lines[3]?.fields, { unserializable: true });
    assert.ok(calls.some((c) => c.length === 4 && c[1] === 'copied %d files to %s' && c[2] === 12), 'the format arguments reach the base logger');
    await h.scheduler.stop();
  });

  it('a flood of lines keeps memory and events within the budget; sizes count UTF-8 bytes (hostile review)', async () => {
    const h = harness({ runLogs: { maxBytes: '2KiB' } });
    const events: number[] = [];
    h.scheduler.on('run:log', (e) => events.push(e.lines.length));
    h.scheduler.add({
      name: 'flood',
      schedule: { every: '1h' },
      handler: (ctx) => {
        for (let i = 0; i < 50_000; i++) ctx.log(`漢字のログ ${i}`);
      },
    });
    await h.scheduler.start();
    await h.clock.advance(5_000);
    const [run] = await runsOf(h.scheduler, 'flood');
    const log = await h.scheduler.runLog(run?.id ?? '');
    const stored = Buffer.byteLength(JSON.stringify(log?.lines.map((l) => ({ seq: l.seq, at: l.at.getTime(), level: l.level, message: l.message, fields: l.fields }))), 'utf8');
    assert.ok(stored <= 2_048 && stored > 1_500, `${stored} bytes stored`);
    assert.equal(log?.lines.at(-1)?.message, '漢字のログ 49999');
    assert.ok(events.every((n) => n <= (log?.lines.length ?? 0)), `events carried ${events}`);
    await h.scheduler.stop();
  });

  it('a write the store refused is made at the next flush; a store that hangs holds stop() no longer than its timeout (hostile review)', async () => {
    let refuse = 1;
    let hang = false;
    const store: Store = memoryStore();
    const flaky: Store = new Proxy(store, {
      get: (target, key) => {
        const value: unknown = Reflect.get(target, key);
        if (key === 'saveRunLogs') {
          return (logs: never) => (hang ? new Promise(() => {}) : refuse-- > 0 ? Promise.reject(new Error('busy')) : (value as (l: never) => Promise<void>).call(target, logs));
        }
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const h = harness({ store: flaky, runLogs: { flushInterval: '1s' } });
    h.scheduler.add({ name: 'once', schedule: { every: '1h' }, handler: (ctx) => ctx.log('kept after a retry') });
    await h.scheduler.start();
    await h.clock.advance(5_000);
    const [run] = await runsOf(h.scheduler, 'once');
    assert.deepEqual((await h.scheduler.runLog(run?.id ?? ''))?.lines.map((l) => l.message), ['kept after a retry']);
    hang = true;
    await h.scheduler.trigger('once');
    await h.clock.advance(100);
    const began = Date.now();
    let stopped = false;
    const stopping = h.scheduler.stop({ timeout: '1s' }).then(() => (stopped = true));
    // The drain waits on the scheduler's (virtual) clock, the last flush on real time: both bounded.
    while (!stopped && Date.now() - began < 10_000) await h.clock.advance(250);
    await stopping;
    assert.ok(Date.now() - began < 5_000, `stop took ${Date.now() - began} ms`);
  });

  it('a bad runLogs option names the field inside it and the fix', () => {
    const refused = (runLogs: unknown, pattern: RegExp) =>
      assert.throws(() => createScheduler({ runLogs: runLogs as never }), (e: unknown) => e instanceof InvalidOptionError && pattern.test(e.message), String(runLogs));
    refused({ maxBytes: -1 }, /runLogs\.maxBytes/);
    refused({ maxBytes: '0.4' }, /runLogs\.maxBytes: .*less than one byte/);
    refused({ maxBytes: '2MiB' }, /runLogs\.maxBytes: .*at most 1MiB/);
    refused({ flushInterval: '10ms' }, /runLogs\.flushInterval: .*at least 100ms/);
    refused({ maxbytes: 10 }, /runLogs\.maxbytes/);
    assert.ok(createScheduler({ runLogs: false }));
  });
});
