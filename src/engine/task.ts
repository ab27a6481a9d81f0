import type { LastSuccess, LogLevel, RunRecord, RunTrigger } from '../store/records.ts';
import type { Duration } from '../util/duration.ts';
import type { JsonValue } from '../util/json.ts';
import type { Logger } from '../util/logger.ts';
import type { ScheduleSpec } from './schedules/types.ts';
import type { OutsidePolicy, TimeWindowSpec } from './schedules/windows.ts';
import type { AfterSpec, DeferPolicy, DeferSpec, Dependency, WhenSpec } from './smart-options.ts';

/** What a handler receives. */
export interface TaskContext {
  /**
   * Aborted on timeout, cancel, replacement, lost lease or shutdown; `signal.reason` says which.
   * To stop early, throw (passing the signal to `fetch`, timers or streams does it, as does
   * `signal.throwIfAborted()`): returning normally says the work is done.
   */
  readonly signal: AbortSignal;
  readonly runId: string;
  /** The task's name. */
  readonly task: string;
  /** The nominal tick this run is for (for manual runs, when the trigger was requested). */
  readonly scheduledFor: Date;
  /** 1 for the first attempt of a tick. */
  readonly attempt: number;
  readonly trigger: RunTrigger;
  /** The task's last successful run (on any instance), e.g. to resume from its output. */
  readonly lastSuccess: LastSuccess | null;
  /**
   * A child logger with the task, run id and attempt bound. What a handler logs here is also kept
   * with the run (its newest lines: the dashboard's run dialog, `GET /api/runs/:id/logs`,
   * `caretaker show RUN --logs`).
   */
  readonly logger: Logger;
  /**
   * Adds a line to this run's kept log only, not to the scheduler's logger: for output that belongs
   * to the run, such as a program's. Lines after the run ended are ignored.
   *
   * @example
   * ctx.log(`removed ${file}`);
   */
  log(message: string, level?: LogLevel): void;
  /**
   * `<task>@<nominal tick ISO>` (or `<task>@manual:<run id>`): the same for every attempt of a
   * tick, so side effects keyed by it happen once even across retries and replicas.
   */
  readonly idempotencyKey: string;
  /** Increases with every claim of this task; pass it to systems that reject stale writers. */
  readonly fencingToken: number;
  /** Reports progress: `fraction` from 0 to 1, and an optional message. */
  progress(fraction: number, message?: string): void;
}

/** A task's work. Its return value (JSON) becomes the run's output; a throw fails the run. */
export type TaskHandler = (ctx: TaskContext) => unknown;

/** Named priorities; numbers work too (higher runs first). */
export type Priority = 'low' | 'normal' | 'high' | number;
/** What happens to a tick while a run of the same task is in progress. */
export type OverlapPolicy = 'skip' | 'queue' | 'allow' | 'replace';
/** What happens to ticks missed while no scheduler was running. */
export type CatchUpPolicy = 'latest' | 'all' | 'none';

/** Retries of a failed, timed-out or interrupted attempt. */
export interface RetryOptions {
  /** Total attempts including the first. @defaultValue 1 (no retry) */
  readonly attempts?: number;
  /** Upper bound of the first retry's random delay. @defaultValue '1s' */
  readonly backoff?: Duration;
  /** Largest backoff bound. @defaultValue '5m' */
  readonly maxBackoff?: Duration;
  /** Growth of the bound per attempt. @defaultValue 2 */
  readonly factor?: number;
  /** Return false to give up on this error (e.g. a validation error that will not go away). */
  readonly retryOn?: (error: unknown) => boolean;
}

/** Options every task has; `createScheduler({ defaults })` sets them for all tasks. */
export interface TaskOptions {
  /** Abort the run after this long. @defaultValue none */
  readonly timeout?: Duration;
  /** After an abort, how long to wait for the handler before recording the run and freeing its slot. @defaultValue '5s' */
  readonly abortGrace?: Duration;
  readonly retry?: RetryOptions;
  /** @defaultValue 'skip' */
  readonly overlap?: OverlapPolicy;
  /** With `overlap: 'allow'`, how many runs may be in progress at once. @defaultValue unlimited */
  readonly maxConcurrent?: number;
  /** @defaultValue 'latest' */
  readonly catchUp?: CatchUpPolicy;
  /** Missed ticks older than this are not caught up. @defaultValue unlimited */
  readonly catchUpWindow?: Duration;
  /** With `catchUp: 'all'`, the most missed ticks run; older ones are recorded skipped. @defaultValue 100 */
  readonly catchUpLimit?: number;
  /** When concurrency slots are scarce, higher priority runs first. @defaultValue 'normal' */
  readonly priority?: Priority;
  /** Spread each tick by a stable pseudo-random offset in [0, jitter). @defaultValue 0 */
  readonly jitter?: Duration;
  /** The task counts as stale when it has had no success for this long (metrics, readiness). */
  readonly staleAfter?: Duration;
  /**
   * Holds a due run while the process or host is busy, up to `maxDelay`; the run shows the wait.
   *
   * @example
   * defer: { while: { eventLoopLagAbove: '50ms', busy: true }, maxDelay: '2h' }
   */
  readonly defer?: DeferSpec;
}

/** A task: a name, a schedule, a handler and options. */
export interface TaskDefinition extends TaskOptions {
  /** Unique; lowercase letters, digits, `.`, `_`, `-`; starts with a letter or digit. */
  readonly name: string;
  /** When it runs; optional for a task with `after`, which then runs only after its upstream tasks. */
  readonly schedule?: ScheduleSpec;
  readonly handler: TaskHandler;
  readonly description?: string;
  /** Start paused when the store has never seen the task. @defaultValue false */
  readonly paused?: boolean;
  /**
   * Checked when a run is due, before its handler: false (or a reason) records it skipped with
   * reason `condition`; a throw fails the run. Its own timeout defaults to 10 s.
   *
   * @example
   * when: async () => (await diskUsage('/var')) > 0.8 || 'disk below 80%'
   */
  readonly when?: WhenSpec;
  /**
   * Runs after other tasks' runs end (on success unless `on` says otherwise), once per upstream
   * end across all instances, with trigger `dependency`.
   *
   * @example
   * after: 'db-retention'
   * after: { tasks: ['backup', { task: 'export', on: 'finish' }], mode: 'all' }
   */
  readonly after?: AfterSpec;
  /** The task runs only inside these weekly windows (DST-correct). */
  readonly windows?: readonly TimeWindowSpec[];
  /** The task never runs inside these weekly windows. */
  readonly blackout?: readonly TimeWindowSpec[];
  /** A tick outside the windows (or inside a blackout): `defer` to the next allowed instant, or `skip` it. @defaultValue 'defer' */
  readonly outside?: OutsidePolicy;
}

/** A task as `scheduler.tasks()` reports it. */
export interface TaskInfo {
  readonly name: string;
  readonly description: string | null;
  /** The normalised schedule spec. */
  readonly schedule: ScheduleSpec;
  /** The schedule in words, e.g. `every 6h`. */
  readonly scheduleText: string;
  readonly paused: boolean;
  /** Why it was paused (`pause(name, { note })`); null for none, or when not paused. */
  readonly pauseNote: string | null;
  /** When it was paused; null when not paused, or paused by its definition (`paused: true`). */
  readonly pausedAt: Date | null;
  /** The next due instant, or null when paused, finished (`at`), or not started. */
  readonly nextRunAt: Date | null;
  /** The latest run or skipped tick this instance knows of. */
  readonly lastRun: RunRecord | null;
  /** Runs of this task in progress on this instance. */
  readonly running: number;
  readonly overlap: OverlapPolicy;
  readonly priority: number;
  readonly timeoutMs: number | null;
  readonly staleAfterMs: number | null;
  /** Every effective run setting, as the scheduler applies it. */
  readonly settings: TaskSettings;
  /** The tasks whose ends start this one (`after`), and how; null for none. */
  readonly after: Dependency | null;
  /** The tasks registered here that run after this one. */
  readonly downstream: readonly string[];
  /** True when the task has a `when` condition. */
  readonly hasCondition: boolean;
  /**
   * Options changed at run time over the definition (`scheduler.override`), by whom and when; null
   * for none. `applied` is false (and `problem` says why) when the definition no longer takes them.
   */
  readonly overrides: {
    readonly fields: { readonly [option: string]: JsonValue };
    readonly by: string;
    readonly at: Date;
    readonly applied: boolean;
    readonly problem: string | null;
  } | null;
}

/** A task's effective run settings, in milliseconds; null where a setting is unlimited or unset. */
export interface TaskSettings {
  readonly timeoutMs: number | null;
  readonly retry: { readonly attempts: number; readonly backoffMs: number; readonly maxBackoffMs: number; readonly factor: number };
  readonly overlap: OverlapPolicy;
  /** How many runs may overlap (`overlap: 'allow'`); null for no limit. */
  readonly maxConcurrent: number | null;
  readonly catchUp: CatchUpPolicy;
  readonly catchUpWindowMs: number | null;
  readonly catchUpLimit: number;
  readonly priority: number;
  readonly jitterMs: number;
  readonly staleAfterMs: number | null;
  /** `defer`, resolved; null for none. */
  readonly defer: DeferPolicy | null;
}
