import type { FinalStatus, RunTrigger } from '../store/records.ts';
import type { RunError } from '../util/json.ts';

/** What a run's span is told when its handler starts. */
export interface RunSpanStart {
  readonly task: string;
  readonly runId: string;
  readonly attempt: number;
  readonly trigger: RunTrigger;
  readonly scheduledFor: number;
  /** When the handler starts (Unix ms). */
  readonly startedAt: number;
  readonly latenessMs: number;
}

/** One run's span: the handler runs inside it, so the spans it makes are its children. */
export interface RunSpan {
  /** Calls `fn` with this span as the active one. */
  run<T>(fn: () => T): T;
  /** Ends the span with the run's status and, for a failure, its captured error. Called once. */
  end(status: Exclude<FinalStatus, 'skipped'>, error: RunError | null, endedAt: number): void;
}

/**
 * Makes a span per run. The engine knows nothing of OpenTelemetry: `caretaker` wires in a tracer
 * over `@opentelemetry/api` when it is installed, and this no-op otherwise.
 */
export interface RunTracer {
  /** Loads what the tracer needs; called once by `start()`. */
  ready?(): Promise<void>;
  start(run: RunSpanStart): RunSpan;
}

const NO_SPAN: RunSpan = {
  run: (fn) => fn(),
  end: () => {},
};

/** A tracer that records nothing. */
export const noTracer: RunTracer = { start: () => NO_SPAN };

/**
 * A tracer whose failures cost only the span, never the run: a throwing SDK (start, run, end)
 * is reported and the handler runs, and its result counts, as without tracing.
 */
export function guardedTracer(tracer: RunTracer, report: (error: unknown) => void): RunTracer {
  if (tracer === noTracer) return tracer;
  return {
    ...(tracer.ready !== undefined ? { ready: () => tracer.ready?.().catch(report) ?? Promise.resolve() } : {}),
    start(run) {
      let span: RunSpan;
      try {
        span = tracer.start(run);
      } catch (error) {
        report(error);
        return NO_SPAN;
      }
      return {
        run<T>(fn: () => T): T {
          let called = false;
          let outcome: { readonly value: T } | { readonly error: unknown } | null = null;
          try {
            span.run(() => {
              called = true;
              try {
                outcome = { value: fn() };
              } catch (error) {
                outcome = { error };
              }
            });
          } catch (error) {
            report(error);
          }
          // The tracer failed before calling the handler: call it without the span.
          if (!called) return fn();
          const settled = outcome as unknown as { readonly value: T } | { readonly error: unknown };
          if ('error' in settled) throw settled.error;
          return settled.value;
        },
        end(status, error, endedAt) {
          try {
            span.end(status, error, endedAt);
          } catch (failure) {
            report(failure);
          }
        },
      };
    },
  };
}
