import type { RunSpan, RunSpanStart, RunTracer } from '../engine/tracing.ts';
import { packageVersion } from '../util/package-version.ts';

/** What Caretaker uses of `@opentelemetry/api`: an optional peer, so it is loaded, never imported. */
interface OtelApi {
  readonly trace: {
    getTracer(name: string, version?: string): OtelTracer;
    setSpan(context: unknown, span: OtelSpan): unknown;
    getTracerProvider(): OtelProvider;
  };
  readonly ProxyTracerProvider?: new () => OtelProvider;
  readonly context: {
    active(): unknown;
    with<T>(context: unknown, fn: () => T): T;
  };
}

/** The global provider is a proxy: until an SDK registers, it delegates to the API's no-op provider. */
interface OtelProvider {
  getDelegate?(): unknown;
}

interface OtelTracer {
  startSpan(name: string, options: { kind: number; startTime: number; attributes: Record<string, string | number> }, context: unknown): OtelSpan;
}

interface OtelSpan {
  isRecording(): boolean;
  spanContext(): { readonly traceId: string };
  setAttribute(key: string, value: string | number): unknown;
  recordException(exception: { name: string; message: string; stack?: string; code?: string }, time?: number): void;
  setStatus(status: { code: number; message?: string }): unknown;
  end(endTime?: number): void;
}

/** SpanKind.INTERNAL and SpanStatusCode.OK / ERROR: stable numbers of the OpenTelemetry API. */
const KIND_INTERNAL = 0;
const STATUS_OK = 1;
const STATUS_ERROR = 2;

const NO_SPAN: RunSpan = { run: (fn) => fn(), end: () => {} };

/** True while the global tracer provider still delegates to the API's no-op one. */
function withoutSdk(otel: OtelApi, noop: unknown): boolean {
  try {
    return otel.trace.getTracerProvider().getDelegate?.() === noop;
  } catch {
    return false;
  }
}

/** The API's no-op span (no SDK registered): not recording, and no trace to carry. */
function noTrace(span: OtelSpan): boolean {
  try {
    return !span.isRecording() && /^0+$/.test(span.spanContext().traceId);
  } catch {
    // A span that cannot say is treated as a real one: entered and ended like any other.
    return false;
  }
}

/**
 * Traces runs through `@opentelemetry/api` when the application has it installed: a span per
 * run named `caretaker.run <task>`, with the task, run id, attempt, trigger, scheduled instant
 * and lateness as attributes, the handler running inside it (its own spans nest), and the status
 * and error recorded at the end. Without the API nothing is loaded; without an SDK the API's own
 * no-op tracer makes it cost next to nothing.
 */
export function openTelemetryTracer(load: () => Promise<unknown> = () => import('@opentelemetry/api')): RunTracer {
  let api: OtelApi | null = null;
  let tracer: OtelTracer | null = null;
  // The API's no-op provider, what the global proxy delegates to while no SDK is registered.
  let noop: unknown = undefined;
  return {
    async ready() {
      try {
        const mod = (await load()) as OtelApi & { default?: OtelApi };
        api = mod.trace !== undefined ? mod : (mod.default ?? null);
        tracer = api?.trace.getTracer('caretaker', packageVersion()) ?? null;
        noop = api?.ProxyTracerProvider !== undefined ? new api.ProxyTracerProvider().getDelegate?.() : undefined;
      } catch {
        // Not installed: tracing stays off, as documented.
      }
    },
    start(run: RunSpanStart): RunSpan {
      const otel = api;
      if (otel === null || tracer === null) return NO_SPAN;
      // No SDK registered (asked per run: one may register later): the span would be the API's
      // no-op one, so neither it nor its attributes are made, before every handler of a burst.
      if (noop !== undefined && withoutSdk(otel, noop)) return NO_SPAN;
      const parent = otel.context.active();
      // Attributes go to startSpan: samplers and span processors decide on them.
      const attributes = {
        'caretaker.task': run.task,
        'caretaker.run_id': run.runId,
        'caretaker.attempt': run.attempt,
        'caretaker.trigger': run.trigger,
        'caretaker.scheduled_for': new Date(run.scheduledFor).toISOString(),
        'caretaker.lateness_ms': run.latenessMs,
      };
      const span = tracer.startSpan(`caretaker.run ${run.task}`, { kind: KIND_INTERNAL, startTime: run.startedAt, attributes }, parent);
      // Without an SDK the span has no trace (an all-zero id): there is no context to enter, and
      // a burst saves a context copy per run. A span an SDK sampled out keeps its trace id and
      // the not-sampled flag, which the handler's own spans and outgoing calls must inherit.
      if (noTrace(span)) return NO_SPAN;
      const active = otel.trace.setSpan(parent, span);
      return {
        run: (fn) => otel.context.with(active, fn),
        end(status, error, endedAt) {
          span.setAttribute('caretaker.status', status);
          if (error !== null) {
            span.recordException({ name: error.name, message: error.message, ...(error.stack !== null ? { stack: error.stack } : {}), ...(error.code !== null ? { code: error.code } : {}) }, endedAt);
          }
          span.setStatus(status === 'succeeded' ? { code: STATUS_OK } : { code: STATUS_ERROR, message: error?.message ?? status });
          span.end(endedAt);
        },
      };
    },
  };
}
