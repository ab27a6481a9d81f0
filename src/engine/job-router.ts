import type { ClaimOutcome, OverlapMode, QueuedTick, RetryOf } from '../store/port.ts';
import type { LastSuccess, RunRecord, RunTrigger, SkipReason } from '../store/records.ts';
import type { EngineContext } from './context.ts';
import { claimRequest } from './dispatcher.ts';
import { assertNever } from './run-state.ts';
import { type Job, manualSlot, type TaskRuntime } from './task-runtime.ts';
import { type ElapsedEntry, timerEntry } from './timer-queue.ts';

/** What a job is made from; everything but the slot, trigger and instants has a default. */
export interface JobInit {
  readonly slot: string;
  readonly trigger: RunTrigger;
  readonly scheduledFor: number;
  readonly dueAt: number;
  readonly attempt?: number;
  readonly runId?: string;
  readonly skip?: SkipReason | null;
  readonly skippedTicks?: number;
  /** The newest tick a skip record stands for, when it stands for several. */
  readonly throughTick?: number | null;
  /** The run that caused this one (a person's retry of it). */
  readonly causedBy?: string | null;
  readonly overlap?: OverlapMode;
  readonly fromBacklog?: boolean;
}

/** Where the jobs of backfills report back (see BackfillRunner). */
export interface BackfillHooks {
  claimed(job: Job, outcome: ClaimOutcome): void;
  ended(job: Job): void;
  wake(runtime: TaskRuntime): void;
}

/** True for the first attempt of a backfill's instant: its backfill decides what comes next. */
function ofBackfill(job: Job): boolean {
  return job.attempt === 1 && job.slot.startsWith('b:');
}

/**
 * The overlap a retry claims with: a backfill's waits for the task to be free, as its first attempt
 * did (a backfill records no skips); any other, the task's own.
 */
export function retryOverlap(runtime: TaskRuntime, slot: string): OverlapMode {
  return slot.startsWith('b:') ? 'wait' : runtime.policy.overlap;
}

/** Called when a claim started a run. */
export type OnStarted = (job: Job, run: RunRecord, lastSuccess: LastSuccess | null, replaced: readonly string[]) => void;

/**
 * Turns ticks, retries and triggers into jobs, and claim outcomes into what happens next: a run,
 * a skip record, a queued tick, or a later attempt. Keeps each task's backlog (ticks that run one
 * after another) and its ticks waiting for a concurrency slot.
 */
export class JobRouter {
  readonly #ctx: EngineContext;
  readonly #onStarted: OnStarted;
  readonly #backfills: BackfillHooks;
  readonly #withBacklog = new Set<TaskRuntime>();
  readonly #retryEntries = new Set<ElapsedEntry>();
  /**
   * Queued ticks the store handed over and that are not yet claimed: the store keeps no copy, so
   * one dropped by a stop must be recorded, or it is neither run nor recorded.
   */
  readonly #handedOver = new Set<string>();
  readonly #triggersInFlight = new Set<string>();
  #seq = 0;

  constructor(ctx: EngineContext, onStarted: OnStarted, backfills: BackfillHooks) {
    this.#ctx = ctx;
    this.#onStarted = onStarted;
    this.#backfills = backfills;
  }

  /** True when no task has backlog jobs waiting. */
  get idle(): boolean {
    return this.#withBacklog.size === 0;
  }

  job(runtime: TaskRuntime, init: JobInit): Job {
    return {
      heapIndex: -1,
      runtime,
      runId: init.runId ?? this.#ctx.newId(),
      slot: init.slot,
      trigger: init.trigger,
      scheduledFor: init.scheduledFor,
      dueAt: init.dueAt,
      attempt: init.attempt ?? 1,
      skip: init.skip ?? null,
      skippedTicks: init.skippedTicks ?? 1,
      throughTick: init.throughTick ?? null,
      causedBy: init.causedBy ?? null,
      overlap: init.overlap ?? runtime.policy.overlap,
      seq: this.#seq++,
      fromBacklog: init.fromBacklog ?? false,
      claimSentAt: Number.NaN,
      claimLeaseMs: this.#ctx.options.leaseMs,
      checkedShare: false,
    };
  }

  submit(runtime: TaskRuntime, init: JobInit): void {
    this.#ctx.dispatcher.submit(this.job(runtime, init));
  }

  /**
   * A live tick. While concurrency slots are scarce, a task's ticks waiting for one count
   * against its overlap limit like running ones, so an overloaded scheduler keeps a bounded
   * queue per task instead of running every tick ever later: `skip`, `queue` and `allow` record
   * the newer tick skipped, `replace` drops the older waiting one.
   */
  submitLive(runtime: TaskRuntime, init: JobInit): void {
    const policy = runtime.policy;
    const waiting = runtime.activity.waiting;
    if (waiting.length >= policy.maxConcurrent) {
      const oldest = waiting[0] as Job;
      if (policy.overlap !== 'replace' || !this.#ctx.dispatcher.withdraw(oldest)) {
        this.submit(runtime, { ...init, skip: 'overlap' });
        return;
      }
      waiting.shift();
      this.#ctx.dispatcher.submit({ ...oldest, skip: 'overlap', heapIndex: -1 });
    }
    const job = this.job(runtime, init);
    waiting.push(job);
    this.#ctx.dispatcher.submit(job);
  }

  /** Jobs left the dispatcher's queue for a claim: they no longer wait for a slot. */
  onDispatch(jobs: readonly Job[]): void {
    for (const job of jobs) {
      if (job.trigger !== 'schedule' || job.fromBacklog) continue;
      const waiting = job.runtime.activity.waiting;
      const index = waiting.indexOf(job);
      if (index >= 0) waiting.splice(index, 1);
    }
  }

  /**
   * A manual trigger, or a person's retry of a finished run: the retry runs that run's tick again
   * (its scheduled instant, the next attempt number, linked to it) in a slot of its own, so each
   * request runs once.
   */
  submitTrigger(runtime: TaskRuntime, id: string, requestedAt: number, retryOf: RetryOf | null = null): void {
    if (this.#triggersInFlight.has(id)) return;
    this.#triggersInFlight.add(id);
    const init = { runId: id, slot: manualSlot(id), dueAt: requestedAt } as const;
    if (retryOf === null) this.submit(runtime, { ...init, trigger: 'manual', scheduledFor: requestedAt });
    else this.submit(runtime, { ...init, trigger: 'retry', scheduledFor: retryOf.scheduledFor, attempt: retryOf.attempt + 1, causedBy: retryOf.runId });
  }

  submitQueued(queued: QueuedTick): void {
    const runtime = this.#ctx.tasks.get(queued.task);
    if (runtime === undefined || runtime.state !== 'active') return;
    this.#handedOver.add(queued.runId);
    this.submit(runtime, { runId: queued.runId, slot: queued.slot, trigger: queued.trigger, scheduledFor: queued.scheduledFor, dueAt: queued.dueAt });
  }

  /** Schedules the next attempt of a tick at `retryAt`. */
  scheduleRetry(runtime: TaskRuntime, previous: Pick<Job, 'slot' | 'scheduledFor' | 'attempt'>, retryAt: number): void {
    if (!this.#ctx.running()) return;
    const entry = timerEntry(() => {
      this.#retryEntries.delete(entry);
      if (runtime.state !== 'active') return;
      this.submit(runtime, { slot: previous.slot, trigger: 'retry', scheduledFor: previous.scheduledFor, dueAt: retryAt, attempt: previous.attempt + 1, overlap: retryOverlap(runtime, previous.slot) });
    });
    this.#retryEntries.add(entry);
    this.#ctx.timers.atWall(entry, retryAt);
  }

  enqueueBacklog(runtime: TaskRuntime, init: JobInit): void {
    runtime.activity.backlog.push(this.job(runtime, { ...init, fromBacklog: true }));
    this.#withBacklog.add(runtime);
  }

  /** Sends the task's next backlog job once the previous one is done. */
  pump(runtime: TaskRuntime): void {
    this.#pumpBacklog(runtime);
    // After the backlog: a retry or a catch-up tick waiting for the task goes before a backfill.
    this.#backfills.wake(runtime);
  }

  #pumpBacklog(runtime: TaskRuntime): void {
    if (!runtime.hasBacklog || !this.#ctx.running() || runtime.state !== 'active') return;
    const activity = runtime.activity;
    if (activity.backlogBusy) return;
    const job = activity.backlog.shift() as Job;
    if (activity.backlog.length === 0) this.#withBacklog.delete(runtime);
    activity.backlogBusy = true;
    this.#ctx.dispatcher.submit(job);
  }

  /** A backlog job that found its task busy elsewhere may go now. */
  pumpAll(): void {
    for (const runtime of [...this.#withBacklog]) this.pump(runtime);
  }

  /** A job is done (claimed, skipped, taken, or its run ended): the task's next backlog job may go. */
  step(job: Job): void {
    if (ofBackfill(job)) this.#backfills.ended(job);
    if (!job.fromBacklog) return;
    job.runtime.activity.backlogBusy = false;
    this.pump(job.runtime);
  }

  forget(runtime: TaskRuntime): void {
    if (runtime.hasBacklog) runtime.activity.backlog = [];
    this.#withBacklog.delete(runtime);
  }

  onClaimed(job: Job, outcome: ClaimOutcome): void {
    const runtime = job.runtime;
    this.#handedOver.delete(job.runId);
    const newest = Math.max(job.scheduledFor, job.throughTick ?? job.scheduledFor);
    if (job.slot.startsWith('t:') && outcome.kind !== 'busy' && newest > runtime.activity.maxTick) runtime.activity.maxTick = newest;
    if (job.slot.startsWith('m:')) this.#triggersInFlight.delete(job.runId);
    if (ofBackfill(job)) {
      // Told first: a run that ends at once reports to a backfill that knows it started.
      this.#backfills.claimed(job, outcome);
      if (outcome.kind === 'started') this.#onStarted(job, outcome.run, outcome.lastSuccess, outcome.replaced);
      else if (outcome.kind === 'taken' && this.#ctx.events.hasListeners('claim:taken')) this.#ctx.events.emit('claim:taken', { task: runtime.name, trigger: job.trigger, scheduledFor: new Date(job.scheduledFor) });
      this.#ctx.changed();
      return;
    }
    switch (outcome.kind) {
      case 'started':
        this.#onStarted(job, outcome.run, outcome.lastSuccess, outcome.replaced);
        break;
      case 'skipped':
        runtime.lastRun = outcome.run;
        this.#ctx.events.emit('tick:skipped', outcome.run);
        this.step(job);
        break;
      case 'queued':
        this.#ctx.events.emit('tick:queued', { task: runtime.name, scheduledFor: new Date(job.scheduledFor) });
        this.step(job);
        break;
      case 'taken':
        if (this.#ctx.events.hasListeners('claim:taken')) this.#ctx.events.emit('claim:taken', { task: runtime.name, trigger: job.trigger, scheduledFor: new Date(job.scheduledFor) });
        this.step(job);
        break;
      case 'busy':
        // A run of the task is in progress (maybe elsewhere): try again when one ends.
        runtime.activity.backlog.unshift(job);
        runtime.activity.backlogBusy = false;
        this.#withBacklog.add(runtime);
        break;
      default:
        assertNever(outcome);
    }
    this.#ctx.changed();
  }

  /**
   * Stops: takes every job that was never claimed and records what must not be lost. A tick no
   * later claim has overtaken is left alone: the persisted cursor has not passed it, so another
   * instance runs it or the next start applies `catchUp` to it (recording it here would take it
   * away from a replica that is still running). An overtaken one would fall through the cracks,
   * so it is recorded skipped (`missed`), as is a queued tick the store handed over (it keeps no
   * copy); pending skip records are written as they are.
   */
  close(): void {
    const dropped = this.#ctx.dispatcher.close();
    for (const runtime of this.#withBacklog) {
      dropped.push(...runtime.activity.backlog);
      runtime.activity.backlog = [];
      runtime.activity.backlogBusy = false;
    }
    this.#withBacklog.clear();
    for (const entry of this.#retryEntries) this.#ctx.timers.cancel(entry);
    this.#retryEntries.clear();
    const { instance, options } = this.#ctx;
    const now = this.#ctx.clock.now();
    const records = dropped
      .filter((job) => job.skip !== null || this.#handedOver.has(job.runId) || (job.attempt === 1 && job.slot.startsWith('t:') && job.scheduledFor < job.runtime.activity.maxTick))
      .map((job) => claimRequest(job, instance, options.leaseMs, now, job.skip ?? 'missed'));
    if (records.length === 0) return;
    const written = this.#ctx.store.claim(records, now).then((outcomes) => {
      for (const outcome of outcomes) if (outcome.kind === 'skipped') this.#ctx.events.emit('tick:skipped', outcome.run);
    });
    void this.#ctx.track(written).catch((error: unknown) => this.#ctx.reportError(error, 'store'));
  }
}
