import type { BackfillProgress, BackfillRecord, BackfillStatus, RunStatus } from './records.ts';

/** The slot a backfill's run of one instant claims: unique per backfill and instant. */
export function backfillSlot(backfillId: string, instant: number): string {
  return `${backfillSlotPrefix(backfillId)}${instant}`;
}

/** What every slot of a backfill starts with. */
export function backfillSlotPrefix(backfillId: string): string {
  return `b:${backfillId}:`;
}

/** Every slot of a backfill, in the order of its instants. */
export function backfillSlots(backfillId: string, instants: readonly number[]): string[] {
  return instants.map((instant) => backfillSlot(backfillId, instant));
}

/** One attempt of one of a backfill's instants, as the stores read it. */
export interface BackfillAttempt {
  readonly slot: string;
  readonly attempt: number;
  readonly status: RunStatus;
}

/** Counts each instant once, by its latest attempt: the same rule on every store. */
export function backfillProgress(total: number, attempts: Iterable<BackfillAttempt>): BackfillProgress {
  const latest = new Map<string, BackfillAttempt>();
  for (const a of attempts) {
    const seen = latest.get(a.slot);
    if (seen === undefined || a.attempt > seen.attempt) latest.set(a.slot, a);
  }
  const counts = { running: 0, succeeded: 0, failed: 0, cancelled: 0, skipped: 0 };
  for (const { status } of latest.values()) {
    if (status === 'timed_out' || status === 'interrupted') counts.failed++;
    else counts[status]++;
  }
  return { total, pending: Math.max(0, total - latest.size), ...counts };
}

/** A backfill's stored columns, before its progress is counted. */
export interface BackfillRow {
  readonly id: string;
  readonly task: string;
  readonly from: number;
  readonly to: number;
  readonly instants: readonly number[];
  readonly status: BackfillStatus;
  readonly requestedBy: string;
  readonly requestedAt: number;
  readonly endedAt: number | null;
}

export function backfillRecord(row: BackfillRow, attempts: Iterable<BackfillAttempt>): BackfillRecord {
  return {
    id: row.id,
    task: row.task,
    from: new Date(row.from),
    to: new Date(row.to),
    status: row.status,
    requestedBy: row.requestedBy,
    requestedAt: new Date(row.requestedAt),
    endedAt: row.endedAt === null ? null : new Date(row.endedAt),
    progress: backfillProgress(row.instants.length, attempts),
  };
}

/** Clamps a listing's page size. */
export function backfillListLimit(limit: number | undefined): number {
  return limit === undefined || !Number.isFinite(limit) ? 20 : Math.min(100, Math.max(1, Math.trunc(limit)));
}
