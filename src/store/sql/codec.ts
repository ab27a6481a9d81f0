import type { JsonValue, RunError } from '../../util/json.ts';
import type { LastSuccess, RunProgress, RunRecord, RunStatus, RunTrigger, SkipReason } from '../records.ts';

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
  readonly output: string | JsonValue | null;
  readonly error: string | RunError | null;
  readonly instance: string | null;
  readonly skip_reason: string | null;
  readonly skipped_ticks: number | string;
  readonly fencing_token: number | string | null;
  readonly progress: string | RunProgress | null;
  readonly retry_at: number | string | Date | null;
  readonly lease_expires_at: number | string | Date | null;
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

/** A JSON column: text (SQLite) or already parsed (PostgreSQL jsonb). */
export function fromJson<T>(value: string | T | null): T | null {
  if (value === null) return null;
  return typeof value === 'string' ? (JSON.parse(value) as T) : value;
}

/** JSON for a text column; null stays SQL NULL. */
export function toJson(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

/** A run record from its row. */
export function runFromRow(row: RunRow): RunRecord {
  const startedAt = optionalMillis(row.started_at);
  const finishedAt = optionalMillis(row.finished_at);
  const dueAt = millis(row.due_at);
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
    latenessMs: startedAt !== null ? startedAt - dueAt : null,
    output: fromJson<JsonValue>(row.output),
    error: fromJson<RunError>(row.error),
    instance: row.instance,
    skipReason: row.skip_reason as SkipReason | null,
    skippedTicks: Number(row.skipped_ticks),
    fencingToken: row.fencing_token === null ? null : Number(row.fencing_token),
    progress: fromJson<RunProgress>(row.progress),
    retryAt: date(row.retry_at),
    leaseExpiresAt: date(row.lease_expires_at),
  };
}

/** What a handler sees of a last success, from its run row. */
export function lastSuccessFromRow(row: RunRow): LastSuccess {
  return {
    runId: row.id,
    scheduledFor: new Date(millis(row.scheduled_for)),
    finishedAt: new Date(millis(row.finished_at ?? 0)),
    output: fromJson<JsonValue>(row.output),
  };
}
