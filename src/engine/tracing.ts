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
