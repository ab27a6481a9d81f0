import type { JsonValue, RunError } from '../../util/json.ts';
import type { QueuedTick, TaskOverrides } from '../port.ts';
import type { LastSuccess, RunProgress, RunRecord, RunStatus, RunTrigger, SkipReason } from '../records.ts';

/** A run as the memory store keeps it: mutable, times as Unix ms. */
export interface RunRow {
  readonly id: string;
  readonly task: string;
  readonly slot: string;
  readonly trigger: RunTrigger;
  readonly scheduledFor: number;
  readonly dueAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  status: RunStatus;
  readonly attempt: number;
  output: JsonValue | null;
  error: RunError | null;
  readonly instance: string | null;
  skipReason: SkipReason | null;
  deferredMs: number | null;
  readonly skippedTicks: number;
  readonly fencingToken: number | null;
  progress: RunProgress | null;
  retryAt: number | null;
  leaseExpiresAt: number | null;
  cancelRequested: boolean;
  readonly causedBy: string | null;
}

/** A task as the memory store keeps it. */
export interface TaskRow {
  readonly name: string;
  scheduleKey: string;
  anchor: number | null;
  since: number;
  lastTick: number | null;
  paused: boolean;
  /** What only tasks that ran (or were paused) need; null for the many that never did. */
  activity: TaskActivity | null;
}

/**
 * Tasks the store first saw in one registration with equal values, none claimed, paused,
 * overridden or re-keyed since: one object stands for all of them until each gets a
 * {@link TaskRow} of its own.
 */
export class FreshTasks {
  readonly scheduleKey: string;
  readonly anchor: number | null;
  readonly since: number;
  readonly paused: boolean;

  constructor(scheduleKey: string, anchor: number | null, since: number, paused: boolean) {
    this.scheduleKey = scheduleKey;
    this.anchor = anchor;
    this.since = since;
    this.paused = paused;
  }

  // A getter: no tick of a fresh task was handled.
  get lastTick(): null {
    return null;
  }

  matches(scheduleKey: string, anchor: number | null, paused: boolean): boolean {
    return this.scheduleKey === scheduleKey && this.anchor === anchor && this.paused === paused;
  }
}

/** What the store keeps under a task's name. */
export type TaskEntry = TaskRow | FreshTasks;

/** The part of a task row that exists once the task was claimed or paused. */
export interface TaskActivity {
  pauseVersion: number;
  pauseNote: string | null;
  pausedAt: number | null;
  overrides: TaskOverrides | null;
  fencing: number;
  readonly running: Set<RunRow>;
  queued: QueuedTick | null;
  lastRun: RunRow | null;
  lastSuccess: LastSuccess | null;
}

/** A task row's activity, created on first use. */
export function activityOf(task: TaskRow): TaskActivity {
  return (task.activity ??= { pauseVersion: 0, pauseNote: null, pausedAt: null, overrides: null, fencing: 0, running: new Set(), queued: null, lastRun: null, lastSuccess: null });
}

const date = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

/** A detached, immutable snapshot of a row, as the port returns it. */
export function toRecord(row: RunRow): RunRecord {
  return {
    id: row.id,
    task: row.task,
    trigger: row.trigger,
    slot: row.slot,
    scheduledFor: new Date(row.scheduledFor),
    dueAt: new Date(row.dueAt),
    startedAt: date(row.startedAt),
    finishedAt: date(row.finishedAt),
    status: row.status,
    attempt: row.attempt,
    durationMs: row.startedAt !== null && row.finishedAt !== null ? row.finishedAt - row.startedAt : null,
    latenessMs: row.startedAt !== null ? row.startedAt - row.dueAt - (row.deferredMs ?? 0) : null,
    deferredMs: row.deferredMs,
    output: row.output,
    error: row.error,
    instance: row.instance,
    skipReason: row.skipReason,
    skippedTicks: row.skippedTicks,
    fencingToken: row.fencingToken,
    progress: row.progress,
    retryAt: date(row.retryAt),
    leaseExpiresAt: date(row.leaseExpiresAt),
    causedBy: row.causedBy,
  };
}

/** The key that makes claims unique. */
export function slotKey(task: string, slot: string, attempt: number): string {
  return `${task}\u0000${slot}\u0000${attempt}`;
}
