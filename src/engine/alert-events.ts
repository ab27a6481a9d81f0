import type { NotifyEvent, NotifyRun } from '../notify/event.ts';
import type { RunRecord } from '../store/records.ts';
import { formatDuration } from '../util/duration.ts';
import { ErrorCode } from '../util/errors.ts';

/** Statuses that end a tick badly. `interrupted` counts unless the scheduler itself was stopping. */
export function endedBadly(run: RunRecord): boolean {
  if (run.status === 'failed' || run.status === 'timed_out') return true;
  return run.status === 'interrupted' && run.error?.code !== ErrorCode.Shutdown;
}

/** A run's last attempt failed: no retry of it is due. */
export function failedForGood(run: RunRecord): boolean {
  return endedBadly(run) && run.retryAt === null;
}

function runOf(run: RunRecord): NotifyRun {
  return {
    id: run.id,
    status: run.status,
    scheduledFor: run.scheduledFor.toISOString(),
    attempt: run.attempt,
    durationMs: run.durationMs,
    error: run.error?.message ?? null,
  };
}

/** `failed:<run id>`: the task's tick failed after its last attempt. */
export function failedEvent(run: RunRecord, at: number): NotifyEvent {
  const attempts = run.attempt === 1 ? '1 attempt' : `${run.attempt} attempts`;
  const how = run.status === 'timed_out' ? 'timed out' : run.status === 'interrupted' ? 'was interrupted' : 'failed';
  const why = run.error?.message ? `: ${run.error.message}` : '';
  return { id: `failed:${run.id}`, kind: 'failed', task: run.task, at: new Date(at).toISOString(), message: `${run.task} ${how} after ${attempts}${why}`, run: runOf(run) };
}

/** `recovered:<run id>`: it succeeded after its previous tick had failed for good. */
export function recoveredEvent(run: RunRecord, failed: RunRecord, at: number): NotifyEvent {
  return {
    id: `recovered:${run.id}`,
    kind: 'recovered',
    task: run.task,
    at: new Date(at).toISOString(),
    message: `${run.task} succeeded again (it had failed at ${failed.scheduledFor.toISOString()})`,
    run: runOf(run),
  };
}

/** `missed:<record id>`: ticks fell in downtime and `catchUp` did not run them. */
export function missedEvent(record: RunRecord, at: number): NotifyEvent {
  const ticks = Math.max(1, record.skippedTicks);
  return {
    id: `missed:${record.id}`,
    kind: 'missed',
    task: record.task,
    at: new Date(at).toISOString(),
    message: `${record.task} missed ${ticks === 1 ? 'its tick' : `${ticks} ticks`} from ${record.scheduledFor.toISOString()} (the scheduler was not running)`,
    run: null,
  };
}

/**
 * `stale:<task>:<last success id>` (or `:never`): no success within `staleAfter`. One event per
 * last success, so every replica that notices names the same event, and it is sent once.
 */
export function staleEvent(task: string, lastSuccess: RunRecord | null, staleAfterMs: number, since: number, at: number): NotifyEvent {
  const last = lastSuccess?.finishedAt?.getTime() ?? null;
  const message =
    last === null
      ? `${task} has not succeeded since ${new Date(since).toISOString()} (staleAfter ${formatDuration(staleAfterMs)})`
      : `${task} has not succeeded for ${formatDuration(Math.max(0, at - last))}, since ${new Date(last).toISOString()} (staleAfter ${formatDuration(staleAfterMs)})`;
  return { id: `stale:${task}:${lastSuccess?.id ?? 'never'}`, kind: 'stale', task, at: new Date(at).toISOString(), message, run: null };
}
