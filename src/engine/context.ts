import type { Store } from '../store/port.ts';
import type { IdGenerator } from '../util/ids.ts';
import type { Logger } from '../util/logger.ts';
import type { TypedEmitter } from '../util/typed-emitter.ts';
import type { Clock } from './clock.ts';
import type { Dispatcher } from './dispatcher.ts';
import type { ErrorContext, SchedulerEvents } from './events.ts';
import type { ResolvedSchedulerOptions } from './scheduler-options.ts';
import type { TaskRuntime } from './task-runtime.ts';
import type { TimerQueue } from './timer-queue.ts';
import type { RunTracer } from './tracing.ts';

/** The services a scheduler's parts share; the scheduler builds it once and hands it to each. */
export interface EngineContext {
  readonly instance: string;
  readonly options: ResolvedSchedulerOptions;
  readonly store: Store;
  readonly clock: Clock;
  readonly timers: TimerQueue;
  readonly dispatcher: Dispatcher;
  readonly events: TypedEmitter<SchedulerEvents>;
  readonly logger: Logger;
  readonly tracer: RunTracer;
  readonly random: () => number;
  readonly newId: IdGenerator;
  readonly tasks: ReadonlyMap<string, TaskRuntime>;
  /** True while the scheduler runs (not before start, not while stopping). */
  running(): boolean;
  /** Runs a store call as tracked work: `onIdle` and `stop` wait for it. */
  track<T>(work: Promise<T>): Promise<T>;
  reportError(error: unknown, context: ErrorContext): void;
  /** Something finished: idle and drain waiters may be due. */
  changed(): void;
}
