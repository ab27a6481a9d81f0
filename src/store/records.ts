import type { JsonValue, RunError } from '../util/json.ts';

/** Every state a run record can be in. `running` is the only non-final one. */
export const RUN_STATUSES = ['running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'interrupted', 'skipped'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
/** The states a run can end in. */
export type FinalStatus = Exclude<RunStatus, 'running'>;

/** What started a run. */
export const RUN_TRIGGERS = ['schedule', 'manual', 'catch-up', 'retry', 'backfill', 'dependency'] as const;
export type RunTrigger = (typeof RUN_TRIGGERS)[number];

/**
 * Why a tick did not run:
 * - `overlap`: a run of the task was in progress (`overlap: 'skip'`, a full queue, or `maxConcurrent`);
 * - `paused`: the task was paused;
 * - `missed`: the tick fell in downtime (or a wall-clock jump) and `catchUp` did not run it;
 * - `condition`: the task's `when` condition said no (the record's `error.message` says why);
 * - `deferred`: the task's `defer` held the run for quiet time until `maxDelay`, with `then: 'skip'`;
 * - `window`: a catch-up or dependency run fell outside the task's windows (or in a blackout), with `outside: 'skip'`.
 */
export const SKIP_REASONS = ['overlap', 'paused', 'missed', 'condition', 'deferred', 'window'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

/** The last progress a handler reported. */
export interface RunProgress {
  /** 0 to 1. */
  readonly fraction: number;
  readonly message: string | null;
}

/**
 * One attempt of one tick of one task, or one tick that did not run (`status: 'skipped'`).
 * Times are Dates; in JSON they are ISO-8601 strings.
 */
export interface RunRecord {
  /** A UUIDv7: ids sort by creation time. */
  readonly id: string;
  readonly task: string;
  readonly trigger: RunTrigger;
  /** What the claim was on: `t:<unix ms>` for a nominal tick, `m:<trigger id>` for a manual run; attempts of one tick share it. */
  readonly slot: string;
  /** The nominal tick (for manual runs, when the trigger was requested). */
  readonly scheduledFor: Date;
  /** When the run was due: `scheduledFor` plus the task's jitter offset, or the retry time. */
  readonly dueAt: Date;
  /** When the claim was made and the handler started; null for skipped ticks. */
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
  readonly status: RunStatus;
  /** 1 for the first attempt; retries count up. */
  readonly attempt: number;
  readonly durationMs: number | null;
  /** Start minus due instant, less the time `defer` held the run ({@link deferredMs}). */
  readonly latenessMs: number | null;
  /** How long `defer` held the run for quiet time before its handler started (or it was skipped); null when it was not held. */
  readonly deferredMs: number | null;
  /** The handler's return value as JSON. */
  readonly output: JsonValue | null;
  readonly error: RunError | null;
  /** The scheduler instance that ran (or recorded) it. */
  readonly instance: string | null;
  /** Why a skipped tick did not run. */
  readonly skipReason: SkipReason | null;
  /** How many ticks a skipped record stands for (more than 1 when long downtime is summarised). */
  readonly skippedTicks: number;
  /** The fencing token of the claim: increases with every claim of the task. */
  readonly fencingToken: number | null;
  readonly progress: RunProgress | null;
  /** When a retry of this attempt is due, if the retry policy asked for one. */
  readonly retryAt: Date | null;
  /** Until when the owner's lease holds (running runs only). */
  readonly leaseExpiresAt: Date | null;
  /** The run that caused this one: for a retry requested by a person, the run retried; for trigger `dependency`, the upstream run that ended. */
  readonly causedBy: string | null;
}

/** What a handler sees of the task's last successful run. */
export interface LastSuccess {
  readonly runId: string;
  readonly scheduledFor: Date;
  readonly finishedAt: Date;
  readonly output: JsonValue | null;
}

/** Filters for run history; results are newest first. */
export interface RunQuery {
  readonly task?: string;
  readonly status?: RunStatus | readonly RunStatus[];
  readonly trigger?: RunTrigger;
  /** Only runs scheduled at or after this instant. */
  readonly from?: Date;
  /** Only runs scheduled before this instant. */
  readonly to?: Date;
  /** At most this many (1 to 1000). @defaultValue 50 */
  readonly limit?: number;
  /** Continue after this cursor, from a previous page's `nextCursor`. */
  readonly cursor?: string;
}

/** A page of run history. */
export interface RunPage {
  readonly runs: readonly RunRecord[];
  /** Pass as `cursor` for the next page; null on the last page. */
  readonly nextCursor: string | null;
}

/** How much history to keep. */
export interface RetentionPolicy {
  /** Delete finished runs older than this (by finish or schedule time). */
  readonly maxAgeMs: number;
  /** Keep at most this many finished runs per task (newest kept). */
  readonly maxPerTask: number;
}

/** True for the statuses a run can end in. */
export function isFinal(status: RunStatus): status is FinalStatus {
  return status !== 'running';
}

/** Where a recorded change came from. */
export const AUDIT_SOURCES = ['api', 'cli'] as const;
export type AuditSource = (typeof AUDIT_SOURCES)[number];

/** What a person (or a script) changed, with who and when: one entry per accepted mutation. */
export interface AuditEntry {
  /** Time-ordered (UUIDv7): pages go newest first. */
  readonly id: string;
  readonly at: Date;
  /** Who: the API token's name (`anonymous` without tokens), or `cli:<OS user>`. */
  readonly actor: string;
  readonly source: AuditSource;
  /** What: `trigger`, `pause`, `resume`, `cancel`, `retry`. */
  readonly action: string;
  /** The task it touched, when there is one. */
  readonly task: string | null;
  /** The run it touched or made, when there is one. */
  readonly runId: string | null;
  /** The change itself (a pause's note, a retry's original run), as JSON. */
  readonly detail: JsonValue | null;
}

export interface AuditQuery {
  readonly task?: string;
  /** At most this many (1 to 1000). @defaultValue 50 */
  readonly limit?: number;
  /** Continue after this cursor, from a previous page's `nextCursor`. */
  readonly cursor?: string;
}

export interface AuditPage {
  readonly entries: readonly AuditEntry[];
  /** Pass as `cursor` for the next page; null on the last page. */
  readonly nextCursor: string | null;
}

/** What {@link RunStats} covers: one task's ticks scheduled in `[from, to)`, in buckets from `from`. */
export interface RunStatsQuery {
  readonly task: string;
  readonly from: Date;
  readonly to: Date;
  /** Bucket width; buckets start at `from`. At most 2,000 buckets. */
  readonly bucketMs: number;
  /**
   * A numeric field of the runs' outputs to aggregate per bucket, as a dot path of object keys
   * (`bytesFreed`, `tables.rows`); each key starts with a letter, `_` or `$`. Runs whose output has
   * no number there are not counted.
   */
  readonly field?: string;
  /** How many of the newest run durations to return one by one. @defaultValue 2000 */
  readonly pointLimit?: number;
}

/** Duration percentiles of the runs in a bucket (nearest rank), in milliseconds. */
export interface DurationSummary {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly max: number;
}

/** A numeric output field over the runs in a bucket. */
export interface FieldSummary {
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
}

/** One bucket of {@link RunStats}. */
export interface StatsBucket {
  readonly start: Date;
  /**
   * Ticks by outcome, counting each tick once: a run counts unless a retry of it was scheduled
   * and a later attempt of its tick exists; a skip record counts the ticks it stands for.
   */
  readonly outcomes: Readonly<Record<RunStatus, number>>;
  /** Durations of every attempt that ran to an end in the bucket; null when none did. */
  readonly durations: DurationSummary | null;
  /** The chosen output field; null when no run in the bucket has it, or none was asked for. */
  readonly field: FieldSummary | null;
}

/** One run's duration, for a scatter of individual runs. */
export interface DurationPoint {
  readonly runId: string;
  readonly scheduledFor: Date;
  readonly durationMs: number;
  readonly status: FinalStatus;
}

/** A task's history summarised for charts: outcomes, durations and an output field per bucket. */
export interface RunStats {
  readonly task: string;
  readonly from: Date;
  readonly to: Date;
  readonly bucketMs: number;
  readonly field: string | null;
  /** Every bucket from `from` to `to`, oldest first (empty ones included). */
  readonly buckets: readonly StatsBucket[];
  /** The newest runs with a duration (at most `pointLimit`), oldest first. */
  readonly points: readonly DurationPoint[];
  /** Runs with a duration in the range that `points` leaves out. */
  readonly pointsOmitted: number;
}

/** How severe a run's log line is. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** One line a handler wrote through `ctx.logger` (or a command printed). */
export interface LogLine {
  /** 1 for the run's first line; counts every line written, kept or not. */
  readonly seq: number;
  readonly at: Date;
  readonly level: LogLevel;
  readonly message: string;
  /** The fields logged with it (`ctx.logger.info({ table }, 'vacuumed')`), as JSON; null for none. */
  readonly fields: JsonValue | null;
}

/** What is kept of a run's log: its newest lines, within the scheduler's `runLogs.maxBytes`. */
export interface RunLog {
  readonly runId: string;
  readonly lines: readonly LogLine[];
  /** Earlier lines dropped to keep the log within its size: `lines[0].seq - 1`. */
  readonly dropped: number;
  readonly updatedAt: Date;
}

/** Where a backfill is: `running` until every instant has started and ended, or until cancelled. */
export const BACKFILL_STATUSES = ['running', 'done', 'cancelled'] as const;
export type BackfillStatus = (typeof BACKFILL_STATUSES)[number];

/** How a backfill's instants fared so far: each instant counted once, by its latest attempt. */
export interface BackfillProgress {
  /** Instants in the range. */
  readonly total: number;
  /** Instants not claimed yet. */
  readonly pending: number;
  readonly running: number;
  readonly succeeded: number;
  /** Ended failed, timed out or interrupted (retries of them may still come). */
  readonly failed: number;
  readonly cancelled: number;
  readonly skipped: number;
}

/** A request to run every instant of a task's schedule in a past range (trigger `backfill`). */
export interface BackfillRecord {
  /** A UUIDv7. Its runs' slots are `b:<id>:<instant ms>`. */
  readonly id: string;
  readonly task: string;
  /** The range asked for; every instant of the schedule with `from <= t <= to` runs. */
  readonly from: Date;
  readonly to: Date;
  readonly status: BackfillStatus;
  /** Who asked: an API token's name, `cli:<user>`, or what the library caller passed. */
  readonly requestedBy: string;
  readonly requestedAt: Date;
  /** When it was done or cancelled; null while running. */
  readonly endedAt: Date | null;
  readonly progress: BackfillProgress;
}

/** Where an alert's delivery to one channel is: waiting (or retrying), delivered, or given up on. */
export const NOTIFICATION_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type NotificationStatus = (typeof NOTIFICATION_STATUSES)[number];

/** One event (a task failed, recovered, went stale, missed ticks) for one channel, with how its delivery went. */
export interface NotificationRecord {
  /** A UUIDv7 given when it was recorded: pages go newest first. */
  readonly id: string;
  /** The event's stable key (`failed:<run id>`…): every replica that sees the event records it under this key, once. */
  readonly eventId: string;
  readonly channel: string;
  /** `failed`, `recovered`, `stale` or `missed`. */
  readonly kind: string;
  readonly task: string;
  /** The event as delivered (JSON). */
  readonly event: JsonValue;
  readonly status: NotificationStatus;
  /** Delivery attempts so far (a claim counts as one). */
  readonly attempts: number;
  /** When the next attempt is due (pending only). */
  readonly nextAttemptAt: Date | null;
  /** The instance delivering it now, or that delivered it. */
  readonly claimedBy: string | null;
  /** Why the last attempt failed. */
  readonly lastError: string | null;
  readonly createdAt: Date;
  readonly deliveredAt: Date | null;
}

export interface NotificationQuery {
  readonly task?: string;
  readonly status?: NotificationStatus;
  /** At most this many (1 to 1000). @defaultValue 50 */
  readonly limit?: number;
  /** Continue after this cursor, from a previous page's `nextCursor`. */
  readonly cursor?: string;
}

export interface NotificationPage {
  readonly notifications: readonly NotificationRecord[];
  /** Pass as `cursor` for the next page; null on the last page. */
  readonly nextCursor: string | null;
}
