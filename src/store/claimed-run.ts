import type { ClaimRequest } from './port.ts';
import type { RunRecord, SkipReason } from './records.ts';

/** The columns a claim decides; the rest of the run comes from its request. */
export interface ClaimedColumns {
  readonly status: 'running' | 'skipped';
  readonly startedAt: number | null;
  readonly fencingToken: number | null;
  readonly leaseExpiresAt: number | null;
  readonly skipReason: SkipReason | null;
  readonly skippedTicks: number;
}

/**
 * The run record a claim inserted, built from its request instead of read back: a burst's
 * claims then return a few numbers per run rather than every row. Equal to what reading the
 * row would give (the contract suite compares them).
 */
export function claimedRun(req: ClaimRequest, c: ClaimedColumns): RunRecord {
  return {
    id: req.runId,
    task: req.task,
    trigger: req.trigger,
    slot: req.slot,
    scheduledFor: new Date(req.scheduledFor),
    dueAt: new Date(req.dueAt),
    startedAt: c.startedAt === null ? null : new Date(c.startedAt),
    finishedAt: null,
    status: c.status,
    attempt: req.attempt,
    durationMs: null,
    latenessMs: c.startedAt === null ? null : c.startedAt - req.dueAt,
    deferredMs: null,
    output: null,
    error: null,
    instance: req.instance,
    skipReason: c.skipReason,
    skippedTicks: c.skippedTicks,
    fencingToken: c.fencingToken,
    progress: null,
    retryAt: null,
    leaseExpiresAt: c.leaseExpiresAt === null ? null : new Date(c.leaseExpiresAt),
    causedBy: req.causedBy ?? null,
  };
}

/** Started run columns for a claim at `now`. */
export function startedColumns(req: ClaimRequest, now: number, fencingToken: number): ClaimedColumns {
  return { status: 'running', startedAt: Math.max(now, req.startAt), fencingToken, leaseExpiresAt: now + req.leaseMs, skipReason: null, skippedTicks: 0 };
}

/** Skip record columns. */
export function skippedColumns(reason: SkipReason, skippedTicks = 1): ClaimedColumns {
  return { status: 'skipped', startedAt: null, fencingToken: null, leaseExpiresAt: null, skipReason: reason, skippedTicks: Math.max(1, skippedTicks) };
}

/**
 * True for the claims a burst is made of: the first attempt of a scheduled tick with overlap
 * `skip` or `allow`. The SQL stores claim these set-based; every other kind (manual runs,
 * retries, catch-up, skip records, `queue`/`replace`/`wait`) takes the general path.
 */
export function isPlainTick(req: ClaimRequest): boolean {
  return (
    req.skip === null &&
    req.trigger === 'schedule' &&
    req.attempt === 1 &&
    (req.overlap === 'skip' || req.overlap === 'allow') &&
    (req.causedBy ?? null) === null &&
    (req.throughTick ?? null) === null &&
    req.slot === `t:${req.scheduledFor}`
  );
}

/**
 * Splits a batch into plain tick claims and the rest, as indexes into `requests`. A task with
 * more than one claim in the batch goes wholly to the rest, so the two parts share no task and
 * may be claimed one after the other without changing any outcome.
 */
export function splitPlainTicks(requests: readonly ClaimRequest[]): { readonly plain: number[]; readonly rest: number[] } {
  const perTask = new Map<string, number>();
  for (const req of requests) perTask.set(req.task, (perTask.get(req.task) ?? 0) + 1);
  const plain: number[] = [];
  const rest: number[] = [];
  requests.forEach((req, i) => (isPlainTick(req) && perTask.get(req.task) === 1 ? plain : rest).push(i));
  return { plain, rest };
}
