import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { context, trace, type Attributes, type Context, type Link, type SpanKind } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, ParentBasedSampler, type Sampler, SamplingDecision, SimpleSpanProcessor, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';

import { createScheduler, memoryStore, type TaskContext } from '../../src/index.ts';
import { createTestClock, type TestClock } from '../../src/testing/index.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');

/** `n` tasks due together, traced through the global provider the test set. */
async function run(n: number, handler: (clock: TestClock) => (ctx: TaskContext) => unknown) {
  const clock = createTestClock();
  const s = createScheduler({ store: memoryStore(), clock, instance: 'x', random: () => 0, tracing: true });
  for (let i = 0; i < n; i++) s.add({ name: `t${i}`, schedule: { at: new Date(T0 + 1000) }, handler: handler(clock) });
  await s.start();
  await clock.advance(5000);
  await s.onIdle();
  await s.stop();
}

/**
 * Run spans with a real SDK that samples (found by the hostile review of decision 026): samplers
 * decide on the run's attributes, and a run sampled out still hands its trace context (with the
 * not-sampled flag) to the handler's own spans, which must not become orphan roots.
 */
describe('OpenTelemetry sampling of runs', () => {
  const exporter = new InMemorySpanExporter();
  const seen: Attributes[] = [];
  // An attribute-based sampler: drop the runs of one noisy task, keep everything else.
  const byTask: Sampler = {
    shouldSample(_c: Context, _t: string, name: string, _k: SpanKind, attributes: Attributes, _l: Link[]) {
      if (name.startsWith('caretaker.run')) seen.push(attributes);
      return { decision: attributes['caretaker.task'] === 't0' ? SamplingDecision.NOT_RECORD : SamplingDecision.RECORD_AND_SAMPLED };
    },
    toString: () => 'byTask',
  };
  let provider: BasicTracerProvider;
  const cm = new AsyncLocalStorageContextManager();
  before(() => context.setGlobalContextManager(cm.enable()));
  after(() => {
    trace.disable();
    context.disable();
  });

  it('an attribute-based sampler sees the run attributes at start', async () => {
    provider = new BasicTracerProvider({ sampler: byTask, spanProcessors: [new SimpleSpanProcessor(exporter)] });
    trace.setGlobalTracerProvider(provider);
    exporter.reset();
    seen.length = 0;
    await run(3, () => () => 'ok');
    const names = exporter.getFinishedSpans().map((s) => s.name).sort();
    trace.disable();
    await provider.shutdown();
    assert.deepEqual(names, ['caretaker.run t1', 'caretaker.run t2'], 't0 is sampled out by the attribute sampler');
    assert.equal(seen[0]?.['caretaker.task'], 't0', 'the sampler saw the run attributes');
  });

  it('parentbased_traceidratio: children of a sampled-out run are not exported as orphan roots', async () => {
    const ex2 = new InMemorySpanExporter();
    const p2 = new BasicTracerProvider({ sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0.5) }), spanProcessors: [new SimpleSpanProcessor(ex2)] });
    trace.setGlobalTracerProvider(p2);
    await run(200, (clock) => async () => {
      await clock.sleep(1);
      const sp = trace.getTracer('app').startSpan('app.work');
      sp.end();
    });
    const spans = ex2.getFinishedSpans();
    const runIds = new Set(spans.filter((s) => s.name.startsWith('caretaker.run')).map((s) => s.spanContext().spanId));
    const work = spans.filter((s) => s.name === 'app.work');
    const orphans = work.filter((s) => s.parentSpanContext === undefined || !runIds.has(s.parentSpanContext.spanId));
    trace.disable();
    await p2.shutdown();
    assert.ok(runIds.size > 50 && runIds.size < 150, `about half the runs sampled: ${runIds.size}`);
    assert.equal(work.length, runIds.size, 'a handler span exported exactly for each run exported');
    assert.equal(orphans.length, 0);
  });
});
