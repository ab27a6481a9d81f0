import type { JsonValue, RunError } from '../../util/json.ts';
import type { InstanceState, PendingTrigger } from '../port.ts';
import type { AuditEntry, AuditSource, LastSuccess, NotificationRecord, NotificationStatus, LogLevel, LogLine, RunLog, RunProgress, RunRecord, RunStatus, RunTrigger, SkipReason } from '../records.ts';

/** A run as SQL stores keep it (column names as in the migrations). */
export interface RunRow {
  readonly id: string;
  readonly task: string;
  readonly slot: string;
  readonly attempt: number | string;
  readonly trigger: string;
  readonly scheduled_for: number | string | Date;
  readonly due_at: number | string | Date;
  readonly started_at: number | string | Date | null;
  readonly finished_at: number | string | Date | null;
  readonly status: string;
  readonly output: unknown;
  readonly error: unknown;
  readonly instance: string | null;
  readonly skip_reason: string | null;
  readonly skipped_ticks: number | string;
  readonly fencing_token: number | string | null;
  readonly progress: unknown;
  readonly retry_at: number | string | Date | null;
  readonly lease_expires_at: number | string | Date | null;
  readonly caused_by?: string | null;
  /** Schema 12 on. */
  readonly deferred_ms?: number | string | null;
}

/** Unix milliseconds from a column: a number, a numeric string (PostgreSQL bigint) or a Date. */
export function millis(value: number | string | Date): number {
  return value instanceof Date ? value.getTime() : Number(value);
}

function optionalMillis(value: number | string | Date | null): number | null {
  return value === null ? null : millis(value);
}

function date(value: number | string | Date | null): Date | null {
  return value === null ? null : new Date(millis(value));
}

/**
 * Reads a JSON column as its backend hands it over. Each backend has its own: SQLite keeps JSON
 * as text to parse, while PostgreSQL's driver has already parsed jsonb, so a stored string
 * arrives as a string that must not be parsed again (`'ok'` would throw, `'42'` become a number).
 */
export type JsonReader = (value: unknown) => unknown;

/** SQLite: JSON kept as text. */
export const readJsonText: JsonReader = (value) => (value === null || value === undefined ? null : JSON.parse(value as string));

/** A JSON text column (SQLite), typed. */
export function fromJson<T>(value: string | null): T | null {
  return readJsonText(value) as T | null;
}

/** JSON for a text column; null stays SQL NULL. */
export function toJson(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

/** A run record from its row; `json` reads the backend's JSON columns. */
export function runFromRow(row: RunRow, json: JsonReader): RunRecord {
  const startedAt = optionalMillis(row.started_at);
  const finishedAt = optionalMillis(row.finished_at);
  const dueAt = millis(row.due_at);
  const deferredMs = row.deferred_ms === undefined || row.deferred_ms === null ? null : Number(row.deferred_ms);
  return {
    id: row.id,
    task: row.task,
    trigger: row.trigger as RunTrigger,
    slot: row.slot,
    scheduledFor: new Date(millis(row.scheduled_for)),
    dueAt: new Date(dueAt),
    startedAt: date(row.started_at),
    finishedAt: date(row.finished_at),
    status: row.status as RunStatus,
    attempt: Number(row.attempt),
    durationMs: startedAt !== null && finishedAt !== null ? finishedAt - startedAt : null,
    latenessMs: startedAt !== null ? startedAt - dueAt - (deferredMs ?? 0) : null,
    deferredMs,
    output: json(row.output) as JsonValue | null,
    error: json(row.error) as RunError | null,
    instance: row.instance,
    skipReason: row.skip_reason as SkipReason | null,
    skippedTicks: Number(row.skipped_ticks),
    fencingToken: row.fencing_token === null ? null : Number(row.fencing_token),
    progress: json(row.progress) as RunProgress | null,
    retryAt: date(row.retry_at),
    leaseExpiresAt: date(row.lease_expires_at),
    causedBy: row.caused_by ?? null,
  };
}

/** What a handler sees of a last success, from its run row. */
export function lastSuccessFromRow(row: RunRow, json: JsonReader): LastSuccess {
  return {
    runId: row.id,
    scheduledFor: new Date(millis(row.scheduled_for)),
    finishedAt: new Date(millis(row.finished_at ?? 0)),
    output: json(row.output) as JsonValue | null,
  };
}

/** An instance as SQL stores keep it. */
export interface InstanceRow {
  readonly name: string;
  readonly started_at: number;
  readonly seen_at: number;
  readonly poll_interval_ms: number;
  readonly tasks: string;
  readonly stopped_at: number | null;
}

/** An instance from its row; `tasks` is JSON text (SQLite) or already parsed (PostgreSQL). */
export function instanceFromRow(row: InstanceRow | (Omit<InstanceRow, 'tasks'> & { readonly tasks: readonly string[] })): InstanceState {
  return {
    instance: row.name,
    startedAt: new Date(Number(row.started_at)),
    seenAt: new Date(Number(row.seen_at)),
    pollIntervalMs: Number(row.poll_interval_ms),
    tasks: typeof row.tasks === 'string' ? (JSON.parse(row.tasks) as string[]) : row.tasks,
    stoppedAt: row.stopped_at === null ? null : new Date(Number(row.stopped_at)),
  };
}

/** A pending trigger as SQL stores keep it. */
export interface TriggerRow {
  readonly id: string;
  readonly task: string;
  readonly requested_at: number | string;
  readonly retry_of: string | null;
  readonly retry_scheduled_for: number | string | null;
  readonly retry_attempt: number | string | null;
}

export function triggerFromRow(row: TriggerRow): PendingTrigger {
  return {
    id: row.id,
    task: row.task,
    requestedAt: Number(row.requested_at),
    retryOf: row.retry_of === null ? null : { runId: row.retry_of, scheduledFor: Number(row.retry_scheduled_for), attempt: Number(row.retry_attempt) },
  };
}

/** An audit entry as SQL stores keep it. */
export interface AuditRow {
  readonly id: string;
  readonly at: number | string;
  readonly actor: string;
  readonly source: string;
  readonly action: string;
  readonly task: string | null;
  readonly run_id: string | null;
  readonly detail: unknown;
}

export function auditFromRow(row: AuditRow, json: JsonReader): AuditEntry {
  return {
    id: row.id,
    at: new Date(Number(row.at)),
    actor: row.actor,
    source: row.source as AuditSource,
    action: row.action,
    task: row.task,
    runId: row.run_id,
    detail: json(row.detail) as JsonValue | null,
  };
}

/** A notification as SQL stores keep it. */
export interface NotificationRow {
  readonly id: string;
  readonly event_id: string;
  readonly channel: string;
  readonly kind: string;
  readonly task: string;
  readonly event: unknown;
  readonly status: NotificationStatus;
  readonly attempts: number | string;
  readonly next_attempt_at: number | string | null;
  readonly claimed_by: string | null;
  readonly last_error: string | null;
  readonly created_at: number | string;
  readonly delivered_at: number | string | null;
}

export function notificationFromRow(row: NotificationRow, json: JsonReader): NotificationRecord {
  const at = (v: number | string | null) => (v === null ? null : new Date(Number(v)));
  return {
    id: row.id,
    eventId: row.event_id,
    channel: row.channel,
    kind: row.kind,
    task: row.task,
    event: json(row.event) as JsonValue,
    status: row.status,
    attempts: Number(row.attempts),
    nextAttemptAt: row.status === 'pending' ? at(row.next_attempt_at) : null,
    claimedBy: row.claimed_by,
    lastError: row.last_error,
    createdAt: new Date(Number(row.created_at)),
    deliveredAt: at(row.delivered_at),
  };
}

/** A log line as the stores keep it: times as Unix ms. */
interface StoredLine {
  readonly seq: number;
  readonly at: number;
  readonly level: LogLevel;
  readonly message: string;
  readonly fields: JsonValue | null;
}

/** A run's lines as one JSON value, for a single column. */
export function linesToJson(lines: readonly LogLine[]): StoredLine[] {
  return lines.map((l) => ({ seq: l.seq, at: l.at.getTime(), level: l.level, message: l.message, fields: l.fields }));
}

export interface RunLogRow {
  readonly run_id: string;
  readonly lines: unknown;
  readonly dropped: number | string;
  readonly updated_at: number | string;
}

export function runLogFromRow(row: RunLogRow, json: JsonReader): RunLog {
  const lines = (json(row.lines) as StoredLine[] | null) ?? [];
  return {
    runId: row.run_id,
    dropped: Number(row.dropped),
    updatedAt: new Date(Number(row.updated_at)),
    lines: lines.map((l) => ({ seq: l.seq, at: new Date(l.at), level: l.level, message: l.message, fields: l.fields ?? null })),
  };
}

/** One entry per run, the last given winning: a statement may not change one row twice. */
export function lastPerRun(logs: readonly RunLog[]): RunLog[] {
  return [...new Map(logs.map((l) => [l.runId, l])).values()];
}
