import type { LastSuccess, RunRecord, SkipReason } from '../store/records.ts';
import { LeaseLostError } from '../util/errors.ts';
import { captureError, outputCarriedBy, toJsonOutput } from '../util/json.ts';
import type { TimerHandle } from './clock.ts';
import type { EngineContext } from './context.ts';
import { EndWriter } from './end-writer.ts';
import { Execution, type ExecutionHost } from './execution.ts';
import { RunLogWriter } from './run-log.ts';
import type { HeldLease, LeaseKeeper } from './housekeeping.ts';
import type { JobRouter } from './job-router.ts';
import type { PreciseWait } from './precise-wait.ts';
import type { QuietTime } from './quiet-time.ts';
import { retryDelay, shouldRetry } from './retry.ts';
import { type AbortCause, endStatus, type Settlement } from './run-state.ts';
import type { Job } from './task-runtime.ts';
import { timerEntry } from './timer-queue.ts';

/**
 * A handler starts only with at least this share of its lease left: enough for the heartbeat
 * (every third of the lease) to renew it before it lapses, with room for the round trip.
 */
const MIN_LEASE_LEFT_AT_START = 0.5;
/** Progress of one run is published (event and store write) at most this often. */
const PROGRESS_INTERVAL_MS = 250;
/** A run whose task is due again within this long has its end written ahead of others (see EndWriter). */
const URGENT_END_MS = 5_000;

/** A release's wait before it is started. */
const NO_WAIT: TimerHandle = { cancel: () => {} };

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
  readonly #quiet: QuietTime;
  readonly #executions = new Map<string, Execution>();
  /**
   * Runs whose handler ended and whose end is being written (retried while the store fails),
   * with their leases: the heartbeat renews them until the end is written, or another replica's
   * poll would reap a run that succeeded and its retry would run it again.
   */
  readonly #recording = new Map<string, { runId: string; fencingToken: number; validUntil: number }>();
  readonly #ends: EndWriter;
  readonly #logs: RunLogWriter;
  /** Claimed runs waiting for their due instant, by instant; one precise wait per instant. */
  readonly #releases = new Map<number, { readonly executions: Execution[]; wait: TimerHandle }>();
  readonly #host: ExecutionHost;
  /** Set while stopping: collects the final records for the stop report. */
  collector: RunCollector | null = null;

  /**
   * Fires when the soonest lease comes within a third of a lease of lapsing unrenewed: a renewal
   * that hangs (no reply, no error) must stop its runs as surely as one that fails.
   */
  readonly #watchdog = timerEntry(() => this.#checkLeases());
  /** The lease validity the watchdog is armed for: a start only re-arms it for a sooner one. */
  #watchdogFor = Number.POSITIVE_INFINITY;
  /** Runs whose lease was too short to start them: a renewal is on its way. */
  readonly #awaitingLease = new Set<Execution>();
  readonly #renewNow: () => void;

  /**
   * @param onStarted a run was claimed: its lease needs the heartbeat.
   * @param renewNow renew every held lease now, out of the heartbeat's turn.
   */
  constructor(ctx: EngineContext, jobs: JobRouter, precise: PreciseWait, quiet: QuietTime, onStarted: () => void, renewNow: () => void) {
    this.#ctx = ctx;
    this.#quiet = quiet;
    this.#jobs = jobs;
    this.#precise = precise;
    this.#onStarted = onStarted;
    this.#renewNow = renewNow;
    this.#ends = new EndWriter({
      store: ctx.store,
      timers: ctx.timers,
      now: () => ctx.clock.now(),
      monotonic: () => ctx.clock.monotonic(),
      reportError: (e, c) => ctx.reportError(e, c),
      onStuck: (runId) => {
        // No more renewals: the run lapses and any replica's poll (this one's too: it no longer
        // holds it) records it interrupted, so its task is not busy for ever.
        if (this.#recording.delete(runId)) ctx.logger.warn({ runId }, 'the store keeps refusing this run’s end; its lease is left to lapse');
      },
    });
    this.#logs = new RunLogWriter(ctx, ctx.options.runLogs);
    this.#host = {
      timers: ctx.timers,
      logger: ctx.logger,
      tracer: ctx.tracer,
      monotonic: () => ctx.clock.monotonic(),
      runLogger: (e, base) => this.#logs.loggerFor(e.id, e.run.task, base),
      runLogWriter: (e) => this.#logs.writerFor(e.id, e.run.task),
      onProgress: (e) => this.#onProgress(e),
      onSettled: (e, settlement, value) => this.#onSettled(e, settlement, value),
    };
  }

  get size(): number {
    return this.#executions.size;
  }

  /** Runs this instance answers for: executing, or with their end being written. */
  get outstanding(): number {
    return this.#executions.size + this.#recording.size;
  }

  has(runId: string): boolean {
    return this.#executions.has(runId);
  }

  /** The leases this instance holds, for the heartbeat: running runs and runs being recorded. */
  leases(): HeldLease[] {
    const out: HeldLease[] = [];
    for (const r of this.#recording.values()) out.push({ ...r, ended: true });
    for (const e of this.#executions.values()) if (!e.leaseLost) out.push({ runId: e.id, fencingToken: e.fencingToken, validUntil: e.leaseValidUntil, ended: false });
    return out;
  }

  /** How long the ends waiting to be written will take, at the store's recent pace (ms). */
  endsDrainMs(): number {
    return this.#ends.drainMs();
  }

  /** Runs this instance still answers for: executing with its lease, or being recorded. */
  held(): string[] {
    const out = [...this.#recording.keys()];
    for (const e of this.#executions.values()) if (!e.leaseLost) out.push(e.id);
    return out;
  }

  /** A claim started a run: create its execution and call the handler at its due instant. */
  start(job: Job, run: RunRecord, lastSuccess: LastSuccess | null, replaced: readonly string[]): void {
    const runtime = job.runtime;
    const execution = new Execution(this.#host, job, run, lastSuccess);
    // The store counted the lease from when the claim was sent, a round trip (or a locked table) ago.
    const sentAt = Number.isNaN(job.claimSentAt) ? this.#ctx.clock.monotonic() : job.claimSentAt;
    execution.leaseValidUntil = sentAt + job.claimLeaseMs;
    this.#executions.set(execution.id, execution);
    // Not a scan of every run: a burst starts tens of thousands, and rescanning per start was quadratic.
    if (execution.leaseValidUntil < this.#watchdogFor) this.#armWatchdogFor(execution.leaseValidUntil);
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
      this.#begin(execution, null);
      return;
    }
    // Claimed ahead: the handler starts at its due instant, not before, with its context made now.
    execution.prepare();
    const release = this.#releases.get(job.dueAt);
    if (release !== undefined) {
      release.executions.push(execution);
      return;
    }
    // In the map before the wait starts: the wait may end on the next turn, and must find it there.
    const entry = { executions: [execution], wait: NO_WAIT };
    this.#releases.set(job.dueAt, entry);
    entry.wait = this.#precise.until(job.dueAt, () => {
      if (this.#releases.get(job.dueAt) === entry) this.#releases.delete(job.dueAt);
      this.#beginAll(entry.executions);
    });
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
      if (execution === undefined) {
        const recording = this.#recording.get(id);
        if (recording !== undefined) recording.validUntil = Math.max(recording.validUntil, validUntil);
        continue;
      }
      execution.leaseValidUntil = Math.max(execution.leaseValidUntil, validUntil);
      // A run waiting for this renewal starts now (or asks again, until the watchdog gives up).
      if (this.#awaitingLease.delete(execution)) this.#begin(execution, null);
    }
    this.#armWatchdog();
  }

  /** Re-arms the watchdog for the soonest lease held (runs that ended leave it early, never late). */
  #armWatchdog(): void {
    let soonest = Number.POSITIVE_INFINITY;
    for (const e of this.#executions.values()) if (!e.leaseLost && e.leaseValidUntil < soonest) soonest = e.leaseValidUntil;
    this.#armWatchdogFor(soonest);
  }

  #armWatchdogFor(validUntil: number): void {
    this.#watchdogFor = validUntil;
    if (validUntil === Number.POSITIVE_INFINITY) this.#ctx.timers.cancel(this.#watchdog);
    else this.#ctx.timers.after(this.#watchdog, validUntil - this.#leaseMargin() - this.#ctx.clock.monotonic());
  }

  #checkLeases(): void {
    const deadline = this.#ctx.clock.monotonic() + this.#leaseMargin();
    for (const execution of [...this.#executions.values()]) {
      if (execution.leaseValidUntil <= deadline) this.#loseLease(execution.id, 'lease not renewed in time (the store does not answer)');
    }
    this.#armWatchdog();
  }

  /** How long before a lease lapses its run is stopped: a third of it, as when a renewal fails. */
  #leaseMargin(): number {
    return this.#ctx.options.leaseMs / 3;
  }

  /** Another instance took over these leases: stop the handlers, write nothing. */
  lost(runIds: readonly string[]): void {
    for (const id of runIds) this.#loseLease(id, 'lease lost to another instance');
  }

  lapsing(deadline: number): void {
    for (const execution of [...this.#executions.values()]) {
      if (execution.leaseValidUntil <= deadline) this.#loseLease(execution.id, 'lease cannot be renewed (store unreachable)');
    }
  }

  #loseLease(runId: string, message: string): void {
    const execution = this.#executions.get(runId);
    if (execution === undefined || execution.leaseLost) return;
    this.#awaitingLease.delete(execution);
    this.#ctx.logger.warn({ task: execution.run.task, runId }, message);
    if (execution.startedAt === null) {
      // Never started: nothing to wind down, and its record says why (fenced if already taken over).
      const tookMs = Math.round(this.#ctx.clock.monotonic() - execution.leaseValidUntil + execution.job.claimLeaseMs);
      const why = `not started: ${tookMs} ms after its claim was sent, the lease (${this.#ctx.options.leaseMs} ms) could not be kept (${message}); a handler never starts without its lease, so it cannot run beside a retry`;
      execution.abort('lease-lost', false, new LeaseLostError(why));
      execution.abandon();
      return;
    }
    execution.leaseLost = true;
    execution.abort('lease-lost');
  }

  /** Writes the runs' logs that changed since the last flush, waiting at most `timeoutMs` (stopping calls it last). */
  flushLogs(timeoutMs: number): Promise<void> {
    return this.#logs.flush(timeoutMs);
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
   * that another replica's retry may soon run beside. With less than half the lease left, the
   * lease is renewed first; if no renewal comes back in time, the lease watchdog records the run
   * interrupted without starting it, and the retry policy decides.
   */
  #begin(execution: Execution, started: Execution[] | null): void {
    if (execution.settled) return;
    const defer = execution.job.runtime.policy.defer;
    if (defer !== null && !execution.deferDone) {
      execution.deferDone = true;
      this.#quiet.hold(execution, () => this.#begin(execution, null), (message) => execution.showStatus(message));
      return;
    }
    const left = execution.leaseValidUntil - this.#ctx.clock.monotonic();
    if (!(left >= this.#ctx.options.leaseMs * MIN_LEASE_LEFT_AT_START)) {
      this.#awaitingLease.add(execution);
      this.#renewNow();
      return;
    }
    execution.start(this.#ctx.clock.now());
    if (started === null) this.#afterStart(execution);
    else started.push(execution);
  }

  /**
   * Starts the handlers released together, every one of them before any run's bookkeeping: the
   * last handler of an instant starts as early as the first (decision 036).
   */
  #beginAll(executions: readonly Execution[]): void {
    const started: Execution[] = [];
    for (const execution of executions) this.#begin(execution, started);
    for (const execution of started) this.#afterStart(execution);
  }

  /** What a start leads to once the handler runs: its timeout (counted from its start) and the event. */
  #afterStart(execution: Execution): void {
    execution.armTimeout();
    this.#announce(execution);
  }

  /** Emits `run:started` once, before any other event of the run (a handler may report progress before its release ends). */
  #announce(execution: Execution): void {
    const at = execution.startedAt;
    if (execution.announced || at === null) return;
    execution.announced = true;
    const { events } = this.#ctx;
    if (events.hasListeners('run:started')) events.emit('run:started', { ...execution.run, startedAt: new Date(at), latenessMs: at - execution.job.dueAt - (execution.deferredMs ?? 0), deferredMs: execution.deferredMs });
  }

  /**
   * Progress is published (event and store) at most every {@link PROGRESS_INTERVAL_MS} per run,
   * one write in flight, the newest value winning: a handler may report per item, thousands of
   * times a second, and its lease renewals and its end must not queue behind those writes.
   */
  #onProgress(execution: Execution): void {
    if (execution.progressPublishing) return;
    execution.progressPublishing = true;
    const wait = execution.progressPublishedAt + PROGRESS_INTERVAL_MS - this.#ctx.clock.monotonic();
    if (wait <= 0) this.#publishProgress(execution);
    else this.#ctx.timers.after(timerEntry(() => this.#publishProgress(execution)), wait);
  }

  #publishProgress(execution: Execution): void {
    const progress = execution.progress;
    // A run that ended records its last progress with its end.
    if (execution.settled || progress === null) {
      execution.progressPublishing = false;
      return;
    }
    execution.progressPublishedAt = this.#ctx.clock.monotonic();
    this.#announce(execution);
    this.#ctx.events.emit('run:progress', { runId: execution.id, task: execution.run.task, ...progress });
    const lease = { runId: execution.id, fencingToken: execution.fencingToken };
    void this.#ctx
      .track(this.#ctx.store.recordProgress(lease, progress, this.#ctx.clock.now()))
      .catch((error: unknown) => this.#ctx.reportError(error, 'progress'))
      .finally(() => {
        execution.progressPublishing = false;
        // Reported again meanwhile: publish the newest, no sooner than the interval allows.
        if (execution.progress !== progress) this.#onProgress(execution);
      });
  }

  #onSettled(execution: Execution, settlement: Settlement, value: unknown): void {
    const ctx = this.#ctx;
    const job = execution.job;
    const runtime = job.runtime;
    const now = ctx.clock.now();
    const status = endStatus(settlement, execution.cause);
    const thrown = execution.cause !== null ? execution.abortError : value;
    let output: RunRecord['output'] = null;
    // A failure may carry what the work produced so far as its error's `output` (a command's
    // stdout and stderr, a health check's findings): kept like a returned value.
    const produced = settlement === 'returned' ? value : settlement === 'threw' ? outputCarriedBy(value) : undefined;
    if (produced !== undefined) {
      const converted = toJsonOutput(produced, ctx.options.maxOutputBytes);
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
    this.#logs.ended(execution.id);
    runtime.running--;
    ctx.dispatcher.release();
    // Ended while held for quiet time (a cancel, a stop): the wait is kept too.
    const heldFor = this.#quiet.ended(execution, now);
    execution.deferredMs ??= heldFor;
    // A declined run carries why as its error's message, for whoever reads the record.
    const declined = settlement === 'declined' && status === 'skipped' ? (value as { reason: SkipReason; message: string }) : null;
    const error = status === 'succeeded' ? null : declined !== null ? { name: 'Skipped', message: declined.message, code: null, stack: null } : captureError(thrown);
    if (status !== 'skipped') execution.span?.end(status, error, now);
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
      error,
      retryAt,
      progress: execution.progress,
      takeQueued: ctx.running(),
      skipReason: declined?.reason ?? null,
      deferredMs: execution.deferredMs,
    };
    // The bookkeeping after the write is part of the tracked work: `stop` and `onIdle` wait for it.
    // It keeps the run's id, not the execution: in a burst, thousands of ends wait to be written,
    // and whatever they hold on to is copied by every young-generation collection meanwhile.
    const runId = execution.id;
    this.#recording.set(runId, { runId, fencingToken: execution.fencingToken, validUntil: execution.leaseValidUntil });
    // Due again within a few seconds: its end goes ahead of a burst's, or its next claim could
    // find this run still running and skip the tick.
    const urgent = runtime.nextTick !== null && runtime.dueAt(runtime.nextTick) - now < URGENT_END_MS;
    const recorded = this.#ends.write(completion, urgent).then((outcome) => {
      this.#recording.delete(runId);
      if (outcome.kind === 'fenced') {
        ctx.events.emit('run:lost', { runId, task: runtime.name });
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
}
