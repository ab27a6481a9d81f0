import type { PollResult, TaskOverrides } from '../store/port.ts';
import { LeaseExpiredError } from '../util/errors.ts';
import type { EngineContext } from './context.ts';
import type { BackfillRunner } from './backfill-runner.ts';
import { type JobRouter, retryOverlap } from './job-router.ts';
import { retryDelay, shouldRetry } from './retry.ts';
import type { RunController } from './run-controller.ts';
import type { TaskRuntime } from './task-runtime.ts';

/**
 * Applies what other instances changed, as one poll reported it: triggers to run, cancels of
 * this instance's runs, paused flags, runs whose owner vanished (with their retry decision), due
 * retries and queued ticks nobody picked up.
 */
export function applyRemoteChanges(
  ctx: EngineContext,
  jobs: JobRouter,
  runs: RunController,
  result: PollResult,
  sentAt: number,
  takeOverrides: (runtime: TaskRuntime, overrides: TaskOverrides | null, version: number | undefined) => void,
  backfills: BackfillRunner,
): void {
  if (!ctx.running()) return;
  const now = ctx.clock.now();
  for (const trigger of result.triggers) {
    const runtime = ctx.tasks.get(trigger.task);
    if (runtime?.state === 'active') jobs.submitTrigger(runtime, trigger.id, trigger.requestedAt, trigger.retryOf);
  }
  for (const id of result.cancels) runs.abort(id, 'cancel');
  for (const change of result.paused) {
    const runtime = ctx.tasks.get(change.task);
    // Overrides travel with the pause version; a store that predates them reports none.
    // Applied only when newer than what this instance holds (its own later change included).
    if (runtime !== undefined && change.overrides !== undefined) takeOverrides(runtime, change.overrides, change.version);
    // A pause or resume made here after this poll was sent is newer than what it reports.
    if (runtime === undefined || runtime.pausedLocallyAt >= sentAt) continue;
    if (runtime.paused === change.paused && runtime.pauseNote === change.note) continue;
    runtime.paused = change.paused;
    runtime.pauseNote = change.note;
    runtime.pausedAt = change.pausedAt;
    // A new note on a paused task is announced like the pause itself.
    if (change.paused) ctx.events.emit('task:paused', { task: change.task, note: change.note });
    else ctx.events.emit('task:resumed', { task: change.task });
  }
  for (const reaped of result.interrupted) {
    const runtime = ctx.tasks.get(reaped.task);
    // The instance that found the expired lease decides the retry, as the owner would have; the
    // record it announces says so (a listener must not take a retried attempt for the last).
    const retry = runtime !== undefined && shouldRetry(runtime.policy.retry, 'interrupted', reaped.attempt, new LeaseExpiredError(reaped.instance));
    const retryAt = retry ? now + retryDelay(runtime.policy.retry, reaped.attempt, ctx.random) : null;
    const run = retryAt === null ? reaped : { ...reaped, retryAt: new Date(retryAt) };
    ctx.events.emit('run:finished', run);
    if (runtime === undefined) continue;
    runtime.lastRun = run;
    if (retryAt === null) continue;
    void ctx.track(ctx.store.scheduleRetry(run.id, retryAt)).catch((error: unknown) => ctx.reportError(error, 'store'));
    jobs.scheduleRetry(runtime, { slot: run.slot, scheduledFor: run.scheduledFor.getTime(), attempt: run.attempt }, retryAt);
  }
  for (const retry of result.retries) {
    const runtime = ctx.tasks.get(retry.task);
    if (runtime?.state !== 'active') continue;
    jobs.submit(runtime, { slot: retry.slot, trigger: 'retry', scheduledFor: retry.scheduledFor, dueAt: retry.retryAt, attempt: retry.attempt, overlap: retryOverlap(runtime, retry.slot) });
  }
  for (const queued of result.queued) jobs.submitQueued(queued);
  // A store that predates backfills reports none, and ends none.
  if (result.backfills !== undefined) backfills.sync(result.backfills, sentAt);
  jobs.pumpAll();
  ctx.changed();
}
