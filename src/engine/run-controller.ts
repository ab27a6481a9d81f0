import type { FinishOutcome, LeaseRef, RunCompletion } from '../store/port.ts';
import type { LastSuccess, RunProgress, RunRecord } from '../store/records.ts';
import { LeaseLostError } from '../util/errors.ts';
import { captureError, toJsonOutput } from '../util/json.ts';
import type { TimerHandle } from './clock.ts';
import type { EngineContext } from './context.ts';
import { Execution, type ExecutionHost } from './execution.ts';
import type { LeaseKeeper } from './housekeeping.ts';
import type { JobRouter } from './job-router.ts';
import type { PreciseWait } from './precise-wait.ts';
import { retryDelay, shouldRetry, storeBackoff } from './retry.ts';
import { type AbortCause, endStatus, type Settlement } from './run-state.ts';
import type { Job } from './task-runtime.ts';
import { timerEntry } from './timer-queue.ts';

/** Longest wait between attempts to record a run's end while the store fails. */
const MAX_RECORD_BACKOFF_MS = 5_000;
/**
 * A handler starts only with at least this share of its lease left: enough for the heartbeat
 * (every third of the lease) to renew it before it lapses, with room for the round trip.
 */
const MIN_LEASE_LEFT_AT_START = 0.5;

/** Receives the final record of each run while the scheduler stops. */
export type RunCollector = (run: RunRecord) => void;

/**
 * The runs in progress on this instance: starts handlers at their due instant, records how they
 * ended (with the retry decision), and aborts them on cancel, lost lease or shutdown.
 */
export class RunController implements LeaseKeeper {
  readonly #ctx: EngineContext;
  readonly #jobs: JobRouter;
  readonly #precise: PreciseWait;
  readonly #onStarted: () => void;
  readonly #executions = new Map<string, Execution>();
  /** Runs whose handler ended and whose end is being written (retried while the store fails). */
  readonly #recording = new Set<string>();
  /** Claimed runs waiting for their due instant, by instant; one precise wait per instant. */
  readonly #releases = new Map<number, { readonly executions: Execution[]; readonly wait: TimerHandle }>();
  readonly #host: ExecutionHost;
  /** Set while stopping: collects the final records for the stop report. */
  collector: RunCollector | null = null;

  /** Runs whose lease was too short to start them: a renewal is on its way. */
  readonly #awaitingLease = new Set<Execution>();
  readonly #renewNow: () => void;

  /**
   * @param onStarted a run was claimed: its lease needs the heartbeat.
   * @param renewNow renew every held lease now, out of the heartbeat's turn.
   */
  constructor(ctx: EngineContext, jobs: JobRouter, precise: PreciseWait, onStarted: () => void, renewNow: () => void) {
    this.#ctx = ctx;
    this.#jobs = jobs;
    this.#precise = precise;
    this.#onStarted = onStarted;
    this.#renewNow = renewNow;
    this.#host = {
      timers: ctx.timers,
      logger: ctx.logger,
      onProgress: (e, progress) => this.#onProgress(e, progress),
      onSettled: (e, settlement, value) => this.#onSettled(e, settlement, value),
    };
  }

  get size(): number {
    return this.#executions.size;
  }

  has(runId: string): boolean {
    return this.#executions.has(runId);
  }

  /** The leases this instance holds, for the heartbeat. */
  leases(): LeaseRef[] {
    const out: LeaseRef[] = [];
    for (const e of this.#executions.values()) if (!e.leaseLost) out.push({ runId: e.id, fencingToken: e.fencingToken });
    return out;
  }

  /** Runs this instance still answers for: executing with its lease, or being recorded. */
  held(): string[] {
    const out = [...this.#recording];
    for (const e of this.#executions.values()) if (!e.leaseLost) out.push(e.id);
    return out;
  }

  /** A claim started a run: create its execution and call the handler at its due instant. */
  start(job: Job, run: RunRecord, lastSuccess: LastSuccess | null, replaced: readonly string[]): void {
    const runtime = job.runtime;
    const execution = new Execution(this.#host, job, run, lastSuccess);
    // The store counted the lease from when the claim was sent, a round trip (or a locked table) ago.
    execution.leaseValidUntil = job.claimSentAt + this.#ctx.options.leaseMs;
    this.#executions.set(execution.id, execution);
    runtime.running++;
    runtime.lastRun = run;
    for (const id of replaced) this.#executions.get(id)?.abort('replace');
    if (!this.#ctx.running()) {
      // Claimed while stopping: record it interrupted without calling the handler.
      execution.abort('shutdown', false);
      execution.abandon();
      return;
    }
    this.#onStarted();
    if (job.dueAt <= this.#ctx.clock.now()) {
      this.#begin(execution);
      return;
    }
    // Claimed ahead: the handler starts at its due instant, not before.
    const release = this.#releases.get(job.dueAt);
    if (release !== undefined) {
      release.executions.push(execution);
      return;
    }
    const executions = [execution];
    const wait = this.#precise.until(job.dueAt, () => {
      this.#releases.delete(job.dueAt);
      for (const e of executions) this.#begin(e);
    });
    this.#releases.set(job.dueAt, { executions, wait });
  }

  /** Aborts one run of this instance; false if it is not running here. */
  abort(runId: string, cause: AbortCause): boolean {
    const execution = this.#executions.get(runId);
    execution?.abort(cause);
    return execution !== undefined;
  }

  renewed(runIds: readonly string[], validUntil: number): void {
    for (const id of runIds) {
      const execution = this.#executions.get(id);
      if (execution === undefined) continue;
      execution.leaseValidUntil = Math.max(execution.leaseValidUntil, validUntil);
      // A run waiting for this renewal starts now, or never.
      if (this.#awaitingLease.delete(execution)) this.#begin(execution, false);
    }
  }

  /** Another instance took over these leases: stop the handlers, write nothing. */
  lost(runIds: readonly string[]): void {
    for (const id of runIds) this.#loseLease(id, 'lease lost; aborting the run');
  }

  lapsing(deadline: number): void {
    for (const execution of [...this.#executions.values()]) {
      if (execution.leaseValidUntil <= deadline) this.#loseLease(execution.id, 'lease cannot be renewed (store unreachable); aborting the run before it lapses');
    }
  }

  #loseLease(runId: string, message: string): void {
    const execution = this.#executions.get(runId);
    if (execution === undefined || execution.leaseLost) return;
    execution.leaseLost = true;
    this.#awaitingLease.delete(execution);
    this.#ctx.logger.warn({ task: execution.run.task, runId }, message);
    execution.abort('lease-lost');
    // A handler that never started has nothing to wind down.
    if (execution.startedAt === null) execution.abandon();
  }

  /**
   * Stopping: no handler starts any more. Runs claimed ahead whose handler has not started are
   * recorded `interrupted` now; running handlers go on (see {@link drain}).
   */
  stopStarting(): void {
    for (const release of this.#releases.values()) release.wait.cancel();
    this.#releases.clear();
    for (const execution of [...this.#executions.values()]) {
      if (execution.startedAt !== null) continue;
      execution.abort('shutdown', false);
      execution.abandon();
    }
  }

  /**
   * Lets running handlers finish until the stop deadline (monotonic ms) nears: each is aborted
   * (reason `shutdown`) its task's `abortGrace` before the deadline, so a handler that honours
   * the signal is still recorded in time, and one that ignores it is abandoned at the deadline.
   */
  drain(deadline: number): void {
    const now = this.#ctx.clock.monotonic();
    for (const execution of [...this.#executions.values()]) {
      const abortIn = deadline - execution.job.runtime.policy.abortGraceMs - now;
      // No time to wait (a zero timeout, or a grace longer than it): abort at once.
      if (abortIn <= 0) execution.abort('shutdown');
      else this.#ctx.timers.after(timerEntry(() => execution.abort('shutdown')), abortIn);
    }
  }

  /** The stop deadline passed: give up on handlers that are still going. */
  abandonAll(): void {
    for (const execution of [...this.#executions.values()]) execution.abandon();
  }

  /**
   * Calls the handler, now that its run is due, if this instance surely holds the lease for a
   * while yet: a claim answered late (a locked table, a slow database) must not start a handler
   * that another replica's retry may soon run beside. With too little lease left, the lease is
   * renewed first (`mayRenew`); if that does not help either, the run is recorded interrupted
   * without starting, so the retry policy decides, and no handler ever ran twice at once.
   */
  #begin(execution: Execution, mayRenew = true): void {
    if (execution.settled) return;
    const leaseMs = this.#ctx.options.leaseMs;
    const left = execution.leaseValidUntil - this.#ctx.clock.monotonic();
    if (left < leaseMs * MIN_LEASE_LEFT_AT_START) {
      if (mayRenew && left > 0) {
        this.#awaitingLease.add(execution);
        this.#renewNow();
        return;
      }
      const held = Math.round(leaseMs - Math.max(0, left));
      this.#ctx.logger.warn({ task: execution.run.task, runId: execution.id, leaseLeftMs: Math.round(left) }, 'not starting a run whose lease is nearly gone');
      execution.abort('lease-lost', false, new LeaseLostError(`the store took ${held} ms of the ${leaseMs} ms lease to grant this run; it was not started, so it cannot run beside a retry`));
      execution.abandon();
      return;
    }
    const now = this.#ctx.clock.now();
    const { events } = this.#ctx;
    if (events.hasListeners('run:started')) events.emit('run:started', { ...execution.run, startedAt: new Date(now), latenessMs: now - execution.job.dueAt });
    execution.start(now);
  }

  #onProgress(execution: Execution, progress: RunProgress): void {
    this.#ctx.events.emit('run:progress', { runId: execution.id, task: execution.run.task, ...progress });
    const lease = { runId: execution.id, fencingToken: execution.fencingToken };
    void this.#ctx.track(this.#ctx.store.recordProgress(lease, progress, this.#ctx.clock.now())).catch((error: unknown) => this.#ctx.reportError(error, 'progress'));
  }

  #onSettled(execution: Execution, settlement: Settlement, value: unknown): void {
    const ctx = this.#ctx;
    const job = execution.job;
    const runtime = job.runtime;
    const now = ctx.clock.now();
    const status = endStatus(settlement, execution.cause);
    const thrown = execution.cause !== null ? execution.abortError : value;
    let output: RunRecord['output'] = null;
    if (settlement === 'returned') {
      const converted = toJsonOutput(value, ctx.options.maxOutputBytes);
      output = converted.value;
      if (!converted.ok) {
        ctx.logger.warn({ task: runtime.name, runId: execution.id }, converted.problem);
        ctx.events.emit('error', { error: new Error(converted.problem), context: 'output' });
      }
    }
    const retry = status !== 'succeeded' && shouldRetry(runtime.policy.retry, status, job.attempt, thrown);
    const retryAt = retry ? now + retryDelay(runtime.policy.retry, job.attempt, ctx.random) : null;
    // The slot is free now, even if an abandoned handler is still running somewhere.
    this.#executions.delete(execution.id);
    runtime.running--;
    ctx.dispatcher.release();
    if (execution.leaseLost) {
      ctx.events.emit('run:lost', { runId: execution.id, task: runtime.name });
      this.#jobs.step(job);
      ctx.changed();
      return;
    }
    const completion = {
      runId: execution.id,
      fencingToken: execution.fencingToken,
      status,
      startedAt: execution.startedAt,
      finishedAt: now,
      output,
      error: status === 'succeeded' ? null : captureError(thrown),
      retryAt,
      progress: execution.progress,
      takeQueued: ctx.running(),
    };
    // The bookkeeping after the write is part of the tracked work: `stop` and `onIdle` wait for it.
    this.#recording.add(execution.id);
    const recorded = this.#recordEnd(completion).then((outcome) => {
      this.#recording.delete(execution.id);
      if (outcome.kind === 'fenced') {
        ctx.events.emit('run:lost', { runId: execution.id, task: runtime.name });
        return;
      }
      runtime.lastRun = outcome.run;
      this.collector?.(outcome.run);
      ctx.events.emit('run:finished', outcome.run);
      if (retryAt !== null) this.#jobs.scheduleRetry(runtime, job, retryAt);
      if (outcome.queued !== null) this.#jobs.submitQueued(outcome.queued);
    });
    void ctx
      .track(recorded)
      .catch((error: unknown) => ctx.reportError(error, 'store'))
      .finally(() => {
        this.#jobs.step(job);
        this.#jobs.pump(runtime);
        ctx.changed();
      });
  }

  /**
   * Writes how a run ended, retrying with backoff while the store fails: the record is what a
   * user reads at 3 a.m., so a store restart must delay it, not lose it. Each attempt checks the
   * lease anew (a takeover since fences it); retries end when the scheduler stops its timers.
   */
  #recordEnd(completion: RunCompletion): Promise<FinishOutcome> {
    const ctx = this.#ctx;
    return new Promise((resolve) => {
      let backoffMs = 0;
      const attempt = (): void => {
        ctx.store.finish(completion, ctx.clock.now()).then(resolve, (error: unknown) => {
          ctx.reportError(error, 'store');
          backoffMs = storeBackoff(backoffMs, MAX_RECORD_BACKOFF_MS);
          ctx.timers.after(timerEntry(attempt), backoffMs);
        });
      };
      attempt();
    });
  }
}
