import type { BackfillProgress, BackfillRecord, BackfillStatus, RunStatus } from './records.ts';

/** The slot a backfill's run of one instant claims: unique per backfill and instant. */
export function backfillSlot(backfillId: string, instant: number): string {
  return `${backfillSlotPrefix(backfillId)}${instant}`;
}

/** What every slot of a backfill starts with. */
export function backfillSlotPrefix(backfillId: string): string {
  return `b:${backfillId}:`;
}

/** The backfill a slot belongs to, or null for a slot that is not a backfill's. */
export function backfillIdOf(slot: string): string | null {
  if (!slot.startsWith('b:')) return null;
  const end = slot.lastIndexOf(':');
  return end > 2 ? slot.slice(2, end) : null;
}

/**
 * Claims in slots of backfills that are no longer running (cancelled, done, or gone) answer
 * `taken`: a retry or a claim in flight when a cancel landed starts nothing. `running` tells
 * which backfill ids still run; the others' requests are answered here, the rest passed on.
 */
export async function claimOutsideEndedBackfills<R extends { readonly slot: string }, O>(
  requests: readonly R[],
  running: (ids: readonly string[]) => Promise<ReadonlySet<string>>,
  claim: (requests: readonly R[]) => Promise<O[]>,
  taken: O,
): Promise<O[]> {
  const ids = [...new Set(requests.map((r) => backfillIdOf(r.slot)).filter((id): id is string => id !== null))];
  if (ids.length === 0) return claim(requests);
  const live = await running(ids);
  const keep = requests.map((r) => {
    const id = backfillIdOf(r.slot);
    return id === null || live.has(id);
  });
  if (keep.every(Boolean)) return claim(requests);
  const outcomes = await claim(requests.filter((_, i) => keep[i]));
  let next = 0;
  return requests.map((_, i) => (keep[i] ? (outcomes[next++] as O) : taken));
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

/** True when an instant's latest attempt waits for a retry (it has a `retry_at`, and no later attempt exists). */
export function retryPending(attempts: readonly (BackfillAttempt & { readonly retry_at: number | string | null })[]): boolean {
  const latest = new Map<string, BackfillAttempt & { readonly retry_at: number | string | null }>();
  for (const a of attempts) if ((latest.get(a.slot)?.attempt ?? 0) < a.attempt) latest.set(a.slot, a);
  return [...latest.values()].some((a) => a.retry_at !== null && a.status !== 'running');
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
