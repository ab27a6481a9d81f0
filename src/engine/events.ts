import type { LogLine, RunRecord } from '../store/records.ts';
import type { TaskInfo } from './task.ts';

/** What `stop()` resolves with. */
export interface StopReport {
  /** How long stopping took. */
  readonly durationMs: number;
  /** Runs that completed while the scheduler waited for them (their handler returned or failed). */
  readonly finished: readonly RunRecord[];
  /** Runs recorded `interrupted`: they stopped on the shutdown signal, or were still going at the deadline. */
  readonly interrupted: readonly RunRecord[];
}

/** Progress reported by a running handler. */
export interface ProgressEvent {
  readonly runId: string;
  readonly task: string;
  readonly fraction: number;
  readonly message: string | null;
}

/** Where an error that no caller could catch happened. */
export type ErrorContext = 'store' | 'listener' | 'progress' | 'output' | 'tracing' | 'logs';

/**
 * Every event a scheduler emits, with its payload type. Subscribe with `scheduler.on(name, fn)`.
 *
 * @example
 * scheduler.on('run:finished', (run) => console.log(run.task, run.status, run.durationMs));
 */
export interface SchedulerEvents {
  'scheduler:started': { readonly instance: string; readonly tasks: number };
  'scheduler:stopped': StopReport;
  'task:added': TaskInfo;
  'task:updated': TaskInfo;
  'task:removed': { readonly task: string };
  /** `note`: why, as the pause said (null for none). Sent again when a paused task's note changes. */
  'task:paused': { readonly task: string; readonly note: string | null };
  'task:resumed': { readonly task: string };
  'run:started': RunRecord;
  /** A due run is held for quiet time (`defer`): `reason` says what is busy. */
  'run:deferred': { readonly runId: string; readonly task: string; readonly reason: string; readonly since: Date };
  /** A held run was let go: it starts (`ran`), or is recorded skipped at `maxDelay` (`skipped`). */
  'run:undeferred': { readonly runId: string; readonly task: string; readonly waitedMs: number; readonly outcome: 'ran' | 'skipped' };
  'run:progress': ProgressEvent;
  /** Lines a run's handler wrote through `ctx.logger` since the last such event (a flush interval). */
  'run:log': { readonly runId: string; readonly task: string; readonly lines: readonly LogLine[] };
  /** The run's final record, including `retryAt` when a retry was scheduled. */
  'run:finished': RunRecord;
  /** This instance lost a run's lease; its outcome was not written (another instance took over). */
  'run:lost': { readonly runId: string; readonly task: string };
  /**
   * Another instance had already claimed what this one tried to claim: the normal outcome for
   * all but one replica of every tick, so a rate of these is the cluster's claim contention.
   */
  'claim:taken': { readonly task: string; readonly trigger: RunRecord['trigger']; readonly scheduledFor: Date };
  /** A tick that did not run, recorded with its reason. */
  'tick:skipped': RunRecord;
  /** A tick that will run when the current run ends (`overlap: 'queue'`). */
  'tick:queued': { readonly task: string; readonly scheduledFor: Date };
  /** The wall clock jumped relative to elapsed time; due instants were recomputed. */
  'clock:jump': { readonly deltaMs: number };
  /**
   * The store's clock (which the scheduler runs on) is more than a second away from this
   * process's wall clock (`skewed: true`), or back within half a second of it (`skewed: false`).
   */
  'clock:offset': { readonly offsetMs: number; readonly skewed: boolean };
  /** An alert (`notify`) was raised: recorded for delivery to the channels its rules name (once across replicas). */
  'notification:raised': { readonly eventId: string; readonly kind: string; readonly task: string; readonly message: string };
  /** This instance delivered an alert to a channel. */
  'notification:sent': { readonly eventId: string; readonly kind: string; readonly task: string; readonly channel: string; readonly attempt: number };
  /** An attempt to deliver an alert failed; `final` when no attempt follows (not retryable, or the last one). */
  'notification:failed': {
    readonly eventId: string;
    readonly kind: string;
    readonly task: string;
    readonly channel: string;
    readonly attempt: number;
    readonly error: string;
    readonly final: boolean;
  };
  /** Something failed that no caller could catch (a store outage, a throwing listener). */
  error: { readonly error: unknown; readonly context: ErrorContext };
}

export type SchedulerEventName = keyof SchedulerEvents;
