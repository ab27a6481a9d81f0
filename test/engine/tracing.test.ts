import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createScheduler, memoryStore } from '../../src/index.ts';
import { openTelemetryTracer } from '../../src/observe/otel.ts';
import { createTestClock } from '../../src/testing/index.ts';
import type { RunTracer } from '../../src/engine/tracing.ts';
import { harness, T0 } from '../helpers.ts';

/** A scheduler on a test clock with two tasks: one makes a span of its own, one fails once and then succeeds. */
async function runTasks(tracing?: boolean): Promise<void> {
  const clock = createTestClock();
  const scheduler = createScheduler({ store: memoryStore(), clock, instance: 'traced', random: () => 0, ...(tracing !== undefined ? { tracing } : {}) });
  scheduler.add({
    name: 'nested',
    schedule: { at: new Date(T0 + 1_000) },
    handler: async () => {
      await clock.sleep(10);
      // The handler's own span, made after an await: it must still be the run span's child.
      await trace.getTracer('app').startActiveSpan('app.work', async (span) => {
        await clock.sleep(5);
        span.end();
      });
      return { ok: true };
    },
  });
  let calls = 0;
  scheduler.add({
    name: 'flaky',
    schedule: { at: new Date(T0 + 1_000) },
    retry: { attempts: 2, backoff: '1ms' },
    handler: () => {
      if (++calls === 1) throw Object.assign(new Error('first attempt fails'), { code: 'EFLAKY' });
      return 'second works';
    },
  });
  await scheduler.start();
  await clock.advance(5_000);
  await scheduler.onIdle();
  await scheduler.stop();
}

describe('OpenTelemetry', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const contextManager = new AsyncLocalStorageContextManager();
  before(() => {
    context.setGlobalContextManager(contextManager.enable());
    trace.setGlobalTracerProvider(provider);
  });
  after(async () => {
    trace.disable();
    context.disable();
    await provider.shutdown();
  });

  it('a span per run with its attributes, status and error; the handler runs inside it', async () => {
    exporter.reset();
    await runTasks();
    const spans = exporter.getFinishedSpans();
    const runs = spans.filter((s) => s.name.startsWith('caretaker.run '));
    const attrs = (s: ReadableSpan | undefined) => s?.attributes ?? {};
    const nested = runs.find((s) => s.name === 'caretaker.run nested');
    assert.deepEqual(
      { task: attrs(nested)['caretaker.task'], attempt: attrs(nested)['caretaker.attempt'], trigger: attrs(nested)['caretaker.trigger'], lateness: attrs(nested)['caretaker.lateness_ms'], status: attrs(nested)['caretaker.status'], code: nested?.status.code },
      { task: 'nested', attempt: 1, trigger: 'schedule', lateness: 0, status: 'succeeded', code: 1 },
    );
    assert.equal(typeof attrs(nested)['caretaker.run_id'], 'string');
    assert.equal(nested?.startTime[0], (T0 + 1_000) / 1000, 'starts when the handler starts (virtual time)');
    const child = spans.find((s) => s.name === 'app.work');
    assert.equal(child?.parentSpanContext?.spanId, nested?.spanContext().spanId, "the handler's own span is the run span's child");
    assert.equal(child?.spanContext().traceId, nested?.spanContext().traceId);

    const flaky = runs.filter((s) => s.name === 'caretaker.run flaky').sort((a, b) => Number(a.attributes['caretaker.attempt']) - Number(b.attributes['caretaker.attempt']));
    assert.deepEqual(flaky.map((s) => [s.attributes['caretaker.attempt'], s.attributes['caretaker.trigger'], s.attributes['caretaker.status'], s.status.code]), [
      [1, 'schedule', 'failed', 2],
      [2, 'retry', 'succeeded', 1],
    ]);
    const exception = flaky[0]?.events.find((e) => e.name === 'exception');
    assert.equal(exception?.attributes?.['exception.message'], 'first attempt fails');
    assert.equal(flaky[0]?.status.message, 'first attempt fails');
  });

  it('tracing: false makes no span', async () => {
    exporter.reset();
    await runTasks(false);
    assert.deepEqual(exporter.getFinishedSpans().filter((s) => s.name.startsWith('caretaker.')), []);
  });

  it('a tracer that throws costs only the span: the handler runs, its result counts, the failure is an error event', async () => {
    for (const where of ['start', 'run', 'end'] as const) {
      const fail = () => {
        throw new Error(`${where} boom`);
      };
      const broken: RunTracer = {
        start: () => (where === 'start' ? fail() : { run: (fn) => (where === 'run' ? fail() : fn()), end: () => (where === 'end' ? fail() : undefined) }),
      };
      const h = harness({ tracing: broken });
      let calls = 0;
      h.scheduler.add({ name: 'ok', schedule: { every: '1h' }, handler: () => ({ calls: ++calls }) });
      h.scheduler.add({ name: 'fails', schedule: { every: '1h' }, handler: () => { throw new Error('its own failure'); } });
      await h.scheduler.start();
      await h.clock.advance(0);
      await h.scheduler.onIdle();
      await h.scheduler.stop();
      const byTask = new Map(h.finished.map((r) => [r.task, r]));
      assert.deepEqual([byTask.get('ok')?.status, byTask.get('ok')?.output], ['succeeded', { calls: 1 }], `${where}: the handler ran once`);
      assert.deepEqual([byTask.get('fails')?.status, byTask.get('fails')?.error?.message], ['failed', 'its own failure'], `${where}: its own error, not the tracer's`);
      assert.ok(h.errors.some((e) => (e as Error).message === `${where} boom`), `${where}: reported`);
    }
  });

  it('without the API installed, runs run and nothing is traced', async () => {
    const tracer = openTelemetryTracer(() => Promise.reject(new Error("Cannot find package '@opentelemetry/api'")));
    await tracer.ready?.();
    let ran = false;
    const span = tracer.start({ task: 't', runId: 'r', attempt: 1, trigger: 'schedule', scheduledFor: 0, startedAt: 0, latenessMs: 0 });
    span.run(() => {
      ran = true;
    });
    span.end('succeeded', null, 1);
    assert.equal(ran, true);
  });
});
