import { memoryStore } from '../store/memory/memory-store.ts';
import type { ClaimOutcome, OverlapMode, PollResult, QueuedTick, Store } from '../store/port.ts';
import type { LastSuccess, RunPage, RunProgress, RunQuery, RunRecord, RunTrigger, SkipReason } from '../store/records.ts';
import { parseDuration } from '../util/duration.ts';
import {
  CaretakerError,
  DuplicateTaskError,
  ErrorCode,
  invalidOption,
  LeaseExpiredError,
  RunNotFoundError,
  TaskNotFoundError,
} from '../util/errors.ts';
import { type IdGenerator, uuidv7 } from '../util/ids.ts';
import { captureError, toJsonOutput } from '../util/json.ts';
import { type Logger, silentLogger } from '../util/logger.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';
import { type CatchUpPlan, planCatchUp } from './catch-up.ts';
import { type Clock, systemClock } from './clock.ts';
import { claimRequest, Dispatcher } from './dispatcher.ts';
import type { ErrorContext, SchedulerEvents, StopReport } from './events.ts';
import { Execution } from './execution.ts';
import { Heartbeat, Poller, Pruner } from './housekeeping.ts';
import { retryDelay, shouldRetry } from './retry.ts';
import { assertNever, endStatus, type Settlement } from './run-state.ts';
import { resolveSchedulerOptions, type ResolvedSchedulerOptions, type SchedulerOptions } from './scheduler-options.ts';
import type { TaskDefinition, TaskInfo } from './task.ts';
import { resolveTask, type TaskPolicy, toDefinition } from './task-options.ts';
import { type Job, manualSlot, TaskRuntime, tickSlot } from './task-runtime.ts';
import { timerEntry, TimerQueue } from './timer-queue.ts';

/** Where a scheduler is in its life. */
export type SchedulerState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

/** Late ticks of one task handled per wake; more wait for the next wake (immediately after). */
const MAX_TICKS_PER_WAKE = 1_000;
const DEFAULT_STOP_TIMEOUT_MS = 30_000;
/** Longest sleep of the timer: how late a wall-clock jump can be noticed at worst. */
const MAX_SLEEP_MS = 60_000;
const JUMP_THRESHOLD_MS = 1_000;
const PRUNE_INTERVAL_MS = 3_600_000;
const FIRST_PRUNE_DELAY_MS = 60_000;

type JobInit = {
  readonly slot: string;
  readonly trigger: RunTrigger;
  readonly scheduledFor: number;
  readonly dueAt: number;
  readonly attempt?: number;
  readonly runId?: string;
  readonly skip?: SkipReason | null;
  readonly skippedTicks?: number;
  readonly overlap?: OverlapMode;
  readonly fromBacklog?: boolean;
};

/**
 * Runs tasks on their schedules: one timer for all of them, claims through the store so each
 * tick runs once across instances, and a record of every run and skipped tick.
 *
 * Create it with `createScheduler()`. See `SchedulerOptions` for options and `SchedulerEvents`
 * for events.
 */
export class Scheduler {
  /** This instance's name, as recorded on its runs. */
  readonly instance: string;
  readonly #options: ResolvedSchedulerOptions;
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #random: () => number;
  readonly #newId: IdGenerator;
  readonly #events: TypedEmitter<SchedulerEvents>;
  readonly #timers: TimerQueue;
  readonly #dispatcher: Dispatcher;
  readonly #poller: Poller;
  readonly #heartbeat: Heartbeat;
  readonly #pruner: Pruner;
  readonly #policies = new Map<string, TaskPolicy>();
  readonly #tasks = new Map<string, TaskRuntime>();
  readonly #executions = new Map<string, Execution>();
  readonly #withBacklog = new Set<TaskRuntime>();
  readonly #retryEntries = new Set<ReturnType<typeof timerEntry>>();
  readonly #triggersInFlight = new Set<string>();
  /** One object for all tasks' timers, so the scheduler's API stays free of engine callbacks. */
  readonly #sink = { onTaskDue: (runtime: TaskRuntime) => this.#onTaskDue(runtime) };
  #state: SchedulerState = 'idle';
  #toRegister: TaskRuntime[] = [];
  #registerScheduled = false;
  #tracked = 0;
  #idleWaiters: (() => void)[] = [];
  #onDrained: (() => void) | null = null;
  /** Set during a wake that detected a forward wall-clock jump: due ticks were unobserved. */
  #jumped = false;
  #seq = 0;
  #claimBackoffMs = 0;
  #unsubscribe: (() => void) | null = null;
  #stopPromise: Promise<StopReport> | null = null;
  #stopRecords: { finished: RunRecord[]; interrupted: RunRecord[] } | null = null;

  constructor(options: SchedulerOptions = {}) {
    this.#options = resolveSchedulerOptions(options);
    this.#store = options.store ?? memoryStore();
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
    this.#random = options.random ?? Math.random;
    this.instance = options.instance ?? `caretaker-${uuidv7().slice(-12)}`;
    this.#newId = options.idGenerator ?? (() => uuidv7(this.#clock.now()));
    this.#events = new TypedEmitter((error, event) => {
      this.#logger.error({ err: error, event }, 'event listener threw');
      if (event !== 'error') this.#events.emit('error', { error, context: 'listener' });
    });
    this.#timers = new TimerQueue(this.#clock, {
      unref: this.#options.unref,
      maxSleepMs: MAX_SLEEP_MS,
      jumpThresholdMs: JUMP_THRESHOLD_MS,
      onJump: (jump) => {
        if (jump.deltaMs > 0) this.#jumped = true;
        this.#logger.warn({ deltaMs: jump.deltaMs }, 'wall clock jumped; due instants recomputed');
        this.#events.emit('clock:jump', { deltaMs: jump.deltaMs });
      },
      onWakeEnd: () => {
        this.#jumped = false;
        this.#checkIdle();
      },
    });
    this.#dispatcher = new Dispatcher({
      store: this.#store,
      instance: this.instance,
      leaseMs: this.#options.leaseMs,
      concurrency: this.#options.concurrency,
      now: () => this.#clock.now(),
      onDispatch: (jobs) => this.#onDispatch(jobs),
      onOutcome: (job, outcome) => this.#onClaimed(job, outcome),
      onClaimError: (error) => this.#onClaimError(error),
    });
    const host = {
      store: this.#store,
      timers: this.#timers,
      instance: this.instance,
      now: () => this.#clock.now(),
      track: <T>(work: Promise<T>) => this.#track(work),
      reportError: (error: unknown, context: ErrorContext) => this.#reportError(error, context),
    };
    this.#poller = new Poller(host, this.#options.pollIntervalMs, this.#options.leaseMs, (result) => this.#applyPoll(result));
    this.#heartbeat = new Heartbeat(
      host,
      this.#options.leaseMs,
      () => [...this.#executions.values()].filter((e) => !e.leaseLost).map((e) => ({ runId: e.id, fencingToken: e.fencingToken })),
      (lost) => this.#onLeasesLost(lost),
    );
    this.#pruner = new Pruner(host, this.#options.retention, PRUNE_INTERVAL_MS);
  }

  /** The scheduler's state. */
  get state(): SchedulerState {
    return this.#state;
  }

  /** The store this scheduler uses. */
  get store(): Store {
    return this.#store;
  }

  // ─── Tasks ────────────────────────────────────────────────────────────────────────────────

  /**
   * Registers a task. Throws {@link InvalidOptionError} naming every bad option, or
   * {@link DuplicateTaskError}. On a started scheduler the task starts at once.
   *
   * @example
   * scheduler.add({ name: 'cache-cleanup', schedule: { every: '6h' }, handler: async (ctx) => ({ removed: 3 }) });
   */
  add(definition: TaskDefinition): void {
    this.#assertAccepting('add');
    const task = resolveTask(definition, this.#options.defaults, this.#policies);
    if (this.#tasks.has(task.name)) throw new DuplicateTaskError(task.name);
    const runtime = new TaskRuntime(task, this.#sink);
    this.#tasks.set(task.name, runtime);
    if (this.#state === 'running') this.#queueRegistration(runtime);
    // Building the info costs more than registering; only when somebody listens.
    if (this.#events.hasListeners('task:added')) this.#events.emit('task:added', this.#info(runtime));
  }

  /**
   * Changes a task's definition; `changes` are merged over the current one. A changed schedule
   * starts afresh (missed ticks of the old schedule are not caught up); other changes apply
   * from the next run.
   */
  update(name: string, changes: Partial<Omit<TaskDefinition, 'name'>>): TaskInfo {
    this.#assertAccepting('update');
    const runtime = this.#runtime(name);
    const definition = { ...toDefinition(runtime), ...changes, name } as TaskDefinition;
    const task = resolveTask(definition, this.#options.defaults, this.#policies);
    const rekeyed = task.schedule.key !== runtime.schedule.key;
    runtime.apply(task);
    if (rekeyed && runtime.state === 'active') {
      runtime.state = 'registering';
      this.#timers.cancel(runtime);
      this.#queueRegistration(runtime);
    } else if (runtime.state === 'active') {
      this.#armTask(runtime);
    }
    const info = this.#info(runtime);
    this.#events.emit('task:updated', info);
    return info;
  }

  /** Unregisters a task; runs in progress finish normally. False when there was no such task. */
  remove(name: string): boolean {
    const runtime = this.#tasks.get(name);
    if (runtime === undefined) return false;
    runtime.state = 'removed';
    if (runtime.hasBacklog) runtime.activity.backlog = [];
    this.#withBacklog.delete(runtime);
    this.#timers.cancel(runtime);
    this.#tasks.delete(name);
    this.#events.emit('task:removed', { task: name });
    this.#checkIdle();
    return true;
  }

  /** Every registered task, with its next run and last run as this instance knows them. */
  tasks(): TaskInfo[] {
    return [...this.#tasks.values()].map((runtime) => this.#info(runtime));
  }

  /** One task, or undefined. */
  task(name: string): TaskInfo | undefined {
    const runtime = this.#tasks.get(name);
    return runtime === undefined ? undefined : this.#info(runtime);
  }

  // ─── Lifecycle ────────────────────────────────────────────────────────────────────────────

  /** Opens the store, registers the tasks, catches up missed ticks and starts the timer. */
  async start(): Promise<void> {
    if (this.#state !== 'idle') {
      throw new CaretakerError(ErrorCode.SchedulerState, `start() called on a ${this.#state} scheduler; a scheduler starts once (create a new one to start again)`);
    }
    this.#state = 'starting';
    try {
      await this.#store.open();
    } catch (error) {
      this.#state = 'idle';
      throw error;
    }
    this.#state = 'running';
    this.#unsubscribe = this.#store.subscribe?.(() => this.#poller.pollNow()) ?? null;
    this.#timers.start();
    try {
      await this.#register([...this.#tasks.values()], true);
    } catch (error) {
      await this.#shutdown(0);
      throw error;
    }
    this.#poller.start();
    this.#pruner.start(FIRST_PRUNE_DELAY_MS);
    this.#logger.info({ instance: this.instance, tasks: this.#tasks.size, store: this.#store.kind }, 'scheduler started');
    this.#events.emit('scheduler:started', { instance: this.instance, tasks: this.#tasks.size });
  }

  /**
   * Stops: no new runs start, running handlers are aborted with reason `shutdown` and awaited
   * up to `timeout`; whatever has not finished then is recorded `interrupted`. Resolves with a
   * report once no timer or handle of the scheduler is left. Calling it again returns the same
   * report.
   */
  stop(options: { readonly timeout?: number | string } = {}): Promise<StopReport> {
    if (this.#stopPromise !== null) return this.#stopPromise;
    const timeoutMs = options.timeout === undefined ? DEFAULT_STOP_TIMEOUT_MS : parseDuration(options.timeout);
    if (timeoutMs === undefined) {
      throw invalidOption('stop', 'timeout', options.timeout, 'is not a duration; use milliseconds or a string like "30s"');
    }
    this.#stopPromise = this.#shutdown(timeoutMs);
    return this.#stopPromise;
  }

  /**
   * Resolves when nothing is running, being claimed or due now on this instance.
   *
   * @example
   * await clock.advance(60_000);
   * await scheduler.onIdle();
   */
  onIdle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  // ─── Commands ─────────────────────────────────────────────────────────────────────────────

  /**
   * Runs a task now (as a `manual` run), subject to its overlap policy. Resolves with the run id
   * once the request is stored; any instance that runs the task may execute it.
   */
  async trigger(name: string): Promise<string> {
    this.#assertRunning('trigger');
    const runtime = this.#runtime(name);
    const id = this.#newId();
    const now = this.#clock.now();
    await this.#track(this.#store.requestTrigger({ id, task: name, requestedAt: now }));
    if (runtime.state === 'active' && this.#state === 'running') this.#submitTrigger(runtime, id, now);
    return id;
  }

  /** Pauses a task on every instance: its ticks are recorded skipped (`paused`) until resumed. */
  async pause(name: string): Promise<void> {
    await this.#setPaused(name, true);
  }

  /** Resumes a paused task from its next tick. */
  async resume(name: string): Promise<void> {
    await this.#setPaused(name, false);
  }

  /**
   * Cancels a running run, on whichever instance runs it: its signal is aborted and the run is
   * recorded `cancelled`. Throws {@link RunNotFoundError} for an unknown id.
   */
  async cancel(runId: string): Promise<'requested' | 'not-running'> {
    this.#assertRunning('cancel');
    const local = this.#executions.get(runId);
    const result = await this.#track(this.#store.requestCancel(runId, this.#clock.now()));
    if (result === 'not-found') throw new RunNotFoundError(runId);
    local?.abort('cancel');
    return local !== undefined ? 'requested' : result;
  }

  /**
   * Run history, newest first.
   *
   * @example
   * const failures = await scheduler.history({ task: 'cache-cleanup', status: 'failed', limit: 20 });
   */
  async history(query: RunQuery = {}): Promise<RunRecord[]> {
    return [...(await this.#track(this.#store.listRuns(query))).runs];
  }

  /** A page of run history with a cursor for the next one. */
  async historyPage(query: RunQuery = {}): Promise<RunPage> {
    return this.#track(this.#store.listRuns(query));
  }

  /** One run by id, or null. */
  async getRun(id: string): Promise<RunRecord | null> {
    return this.#track(this.#store.getRun(id));
  }

  // ─── Events ───────────────────────────────────────────────────────────────────────────────

  /** Subscribes to a typed event; returns a function that unsubscribes. */
  on<K extends keyof SchedulerEvents>(event: K, listener: (payload: SchedulerEvents[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  once<K extends keyof SchedulerEvents>(event: K, listener: (payload: SchedulerEvents[K]) => void): () => void {
    return this.#events.once(event, listener);
  }

  off<K extends keyof SchedulerEvents>(event: K, listener: (payload: SchedulerEvents[K]) => void): void {
    this.#events.off(event, listener);
  }

  // ─── Registration and ticks ───────────────────────────────────────────────────────────────

  #queueRegistration(runtime: TaskRuntime): void {
    runtime.state = 'registering';
    this.#toRegister.push(runtime);
    if (this.#registerScheduled) return;
    this.#registerScheduled = true;
    // Tasks added in one turn (a config with 10,000 tasks) register in one store call.
    queueMicrotask(() => {
      this.#registerScheduled = false;
      const batch = this.#toRegister;
      this.#toRegister = [];
      this.#register(batch, false).catch((error: unknown) => {
        this.#reportError(error, 'store');
        // Try again later; the tasks stay registered locally meanwhile.
        const retry = timerEntry(() => batch.filter((r) => r.state === 'registering').forEach((r) => this.#queueRegistration(r)));
        this.#timers.after(retry, 5_000);
      });
    });
  }

  async #register(batch: readonly TaskRuntime[], atStart: boolean): Promise<void> {
    if (batch.length === 0) return;
    for (const runtime of batch) runtime.state = 'registering';
    // Ticks from this instant on are observed; earlier ones after the persisted cursor were missed.
    const observedFrom = this.#clock.now();
    const registrations = batch.map((runtime) => ({
      name: runtime.name,
      scheduleKey: runtime.schedule.key,
      anchor: runtime.schedule.initialAnchor(observedFrom),
      paused: runtime.startPaused,
    }));
    const states = await this.#track(this.#store.registerTasks(registrations, observedFrom));
    if (this.#state !== 'running' && !atStart) return;
    batch.forEach((runtime, i) => {
      if (runtime.state !== 'registering' || this.#tasks.get(runtime.name) !== runtime) return;
      const state = states[i];
      const reg = registrations[i] as (typeof registrations)[number];
      // null: the store had never seen the task and stored it as registered.
      if (state === null) this.#activate(runtime, reg.anchor, reg.paused, null, observedFrom, null, observedFrom);
      else if (state !== undefined) this.#activate(runtime, state.anchor, state.paused, state.lastTick, state.since, state.lastRun, observedFrom);
    });
  }

  #activate(
    runtime: TaskRuntime,
    anchor: number | null,
    paused: boolean,
    lastTick: number | null,
    since: number,
    lastRun: RunRecord | null,
    observedFrom: number,
  ): void {
    const schedule = runtime.schedule.bind(anchor, observedFrom);
    runtime.bound = schedule;
    runtime.paused = paused;
    if (lastRun !== null) runtime.lastRun = lastRun;
    runtime.state = 'active';
    const cursor = lastTick ?? since - 1;
    this.#applyCatchUp(runtime, planCatchUp(schedule, cursor, observedFrom, runtime.policy));
    runtime.nextTick = schedule.nextAfter(Math.max(cursor, observedFrom - 1));
    this.#armTask(runtime);
  }

  #armTask(runtime: TaskRuntime): void {
    if (runtime.nextTick === null || runtime.state !== 'active' || this.#state !== 'running') {
      this.#timers.cancel(runtime);
      return;
    }
    this.#timers.atWall(runtime, runtime.dueAt(runtime.nextTick));
  }

  /** The task's timer fired: its next tick (and maybe more, after a stall) is due. */
  #onTaskDue(runtime: TaskRuntime): void {
    const schedule = runtime.bound;
    if (runtime.state !== 'active' || this.#state !== 'running' || schedule === null || runtime.nextTick === null) return;
    const now = this.#clock.now();
    if (this.#jumped) {
      // The wall clock leapt forward: everything now due fell in time nobody observed.
      this.#applyCatchUp(runtime, planCatchUp(schedule, runtime.nextTick - 1, now + 1, runtime.policy));
      runtime.nextTick = schedule.nextAfter(now);
      this.#armTask(runtime);
      return;
    }
    const due: number[] = [];
    let tick: number | null = runtime.nextTick;
    while (tick !== null && runtime.dueAt(tick) <= now && due.length < MAX_TICKS_PER_WAKE) {
      due.push(tick);
      tick = schedule.nextAfter(tick);
    }
    runtime.nextTick = tick;
    this.#armTask(runtime);
    for (let i = 0; i < due.length; i++) {
      const t = due[i] as number;
      const init = { slot: tickSlot(t), trigger: 'schedule', scheduledFor: t, dueAt: runtime.dueAt(t) } as const;
      if (runtime.paused) this.#submit(runtime, { ...init, skip: 'paused' });
      // Ticks that came due together (the loop was blocked) run one after another, each late,
      // instead of being collapsed into one run or skipped as overlapping each other.
      else if (i === 0) this.#submitLive(runtime, init);
      else this.#enqueueBacklog(runtime, { ...init, overlap: 'wait' });
    }
    this.#pump(runtime);
  }

  #applyCatchUp(runtime: TaskRuntime, plan: CatchUpPlan): void {
    const reason: SkipReason = runtime.paused ? 'paused' : 'missed';
    const skip = (tick: number, count: number) =>
      this.#submit(runtime, { slot: tickSlot(tick), trigger: 'schedule', scheduledFor: tick, dueAt: runtime.dueAt(tick), skip: reason, skippedTicks: count });
    if (plan.summary !== null) skip(plan.summary.first, plan.summary.count);
    for (const tick of plan.skip) skip(tick, 1);
    for (const tick of plan.run) {
      if (runtime.paused) skip(tick, 1);
      else this.#enqueueBacklog(runtime, { slot: tickSlot(tick), trigger: 'catch-up', scheduledFor: tick, dueAt: runtime.dueAt(tick), overlap: 'wait' });
    }
    this.#pump(runtime);
  }

  // ─── Jobs and claims ──────────────────────────────────────────────────────────────────────

  #job(runtime: TaskRuntime, init: JobInit): Job {
    return {
      heapIndex: -1,
      runtime,
      runId: init.runId ?? this.#newId(),
      slot: init.slot,
      trigger: init.trigger,
      scheduledFor: init.scheduledFor,
      dueAt: init.dueAt,
      attempt: init.attempt ?? 1,
      skip: init.skip ?? null,
      skippedTicks: init.skippedTicks ?? 1,
      overlap: init.overlap ?? runtime.policy.overlap,
      seq: this.#seq++,
      fromBacklog: init.fromBacklog ?? false,
    };
  }

  #submit(runtime: TaskRuntime, init: JobInit): void {
    this.#dispatcher.submit(this.#job(runtime, init));
  }

  /**
   * A live tick. While concurrency slots are scarce, a task's ticks waiting for one count
   * against its overlap limit like running ones, so an overloaded scheduler keeps a bounded
   * queue per task instead of running every tick ever later: `skip`, `queue` and `allow` record
   * the newer tick skipped, `replace` drops the older waiting one.
   */
  #submitLive(runtime: TaskRuntime, init: JobInit): void {
    const policy = runtime.policy;
    const waiting = runtime.activity.waiting;
    if (waiting.length >= policy.maxConcurrent) {
      const oldest = waiting[0] as Job;
      if (policy.overlap !== 'replace' || !this.#dispatcher.withdraw(oldest)) {
        this.#submit(runtime, { ...init, skip: 'overlap' });
        return;
      }
      waiting.shift();
      this.#dispatcher.submit({ ...oldest, skip: 'overlap', heapIndex: -1 });
    }
    const job = this.#job(runtime, init);
    waiting.push(job);
    this.#dispatcher.submit(job);
  }

  #onDispatch(jobs: readonly Job[]): void {
    for (const job of jobs) {
      if (job.trigger !== 'schedule' || job.fromBacklog) continue;
      const waiting = job.runtime.activity.waiting;
      const index = waiting.indexOf(job);
      if (index >= 0) waiting.splice(index, 1);
    }
  }

  #submitTrigger(runtime: TaskRuntime, id: string, requestedAt: number): void {
    if (this.#triggersInFlight.has(id)) return;
    this.#triggersInFlight.add(id);
    this.#submit(runtime, { runId: id, slot: manualSlot(id), trigger: 'manual', scheduledFor: requestedAt, dueAt: requestedAt });
  }

  #submitQueued(queued: QueuedTick): void {
    const runtime = this.#tasks.get(queued.task);
    if (runtime === undefined || runtime.state !== 'active') return;
    this.#submit(runtime, { runId: queued.runId, slot: queued.slot, trigger: queued.trigger, scheduledFor: queued.scheduledFor, dueAt: queued.dueAt });
  }

  #enqueueBacklog(runtime: TaskRuntime, init: JobInit): void {
    const job = this.#job(runtime, { ...init, fromBacklog: true });
    runtime.activity.backlog.push(job);
    this.#withBacklog.add(runtime);
  }

  /** Sends the task's next backlog job once the previous one is done. */
  #pump(runtime: TaskRuntime): void {
    if (!runtime.hasBacklog || this.#state !== 'running' || runtime.state !== 'active') return;
    const activity = runtime.activity;
    if (activity.backlogBusy) return;
    const job = activity.backlog.shift() as Job;
    if (activity.backlog.length === 0) this.#withBacklog.delete(runtime);
    activity.backlogBusy = true;
    this.#dispatcher.submit(job);
  }

  #backlogStep(job: Job): void {
    if (!job.fromBacklog) return;
    job.runtime.activity.backlogBusy = false;
    this.#pump(job.runtime);
  }

  #onClaimed(job: Job, outcome: ClaimOutcome): void {
    this.#claimBackoffMs = 0;
    const runtime = job.runtime;
    if (job.slot.startsWith('t:') && outcome.kind !== 'busy' && job.scheduledFor > runtime.activity.maxTick) runtime.activity.maxTick = job.scheduledFor;
    if (job.trigger === 'manual') this.#triggersInFlight.delete(job.runId);
    switch (outcome.kind) {
      case 'started':
        this.#startRun(job, outcome.run, outcome.lastSuccess, outcome.replaced);
        break;
      case 'skipped':
        runtime.lastRun = outcome.run;
        this.#events.emit('tick:skipped', outcome.run);
        this.#backlogStep(job);
        break;
      case 'queued':
        this.#events.emit('tick:queued', { task: runtime.name, scheduledFor: new Date(job.scheduledFor) });
        this.#backlogStep(job);
        break;
      case 'taken':
        this.#backlogStep(job);
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
    this.#checkIdle();
  }

  #onClaimError(error: unknown): void {
    this.#reportError(error, 'store');
    // Back off (up to 30 s) and try the same jobs again: ticks are delayed, not lost.
    this.#claimBackoffMs = Math.min(30_000, Math.max(250, this.#claimBackoffMs * 2));
    this.#timers.after(timerEntry(() => this.#dispatcher.resume()), this.#claimBackoffMs);
  }

  // ─── Runs ─────────────────────────────────────────────────────────────────────────────────

  #startRun(job: Job, run: RunRecord, lastSuccess: LastSuccess | null, replaced: readonly string[]): void {
    const runtime = job.runtime;
    const execution = new Execution(
      {
        timers: this.#timers,
        logger: this.#logger,
        onProgress: (e, progress) => this.#onProgress(e, progress),
        onSettled: (e, settlement, value) => this.#onSettled(e, settlement, value),
      },
      job,
      run,
    );
    this.#executions.set(execution.id, execution);
    runtime.running++;
    runtime.lastRun = run;
    for (const id of replaced) this.#executions.get(id)?.abort('replace');
    this.#events.emit('run:started', run);
    if (this.#state !== 'running') {
      // Claimed while stopping: record it interrupted without calling the handler.
      execution.abort('shutdown', false);
      execution.abandon();
      return;
    }
    this.#heartbeat.ensure();
    execution.start(lastSuccess);
  }

  #onProgress(execution: Execution, progress: RunProgress): void {
    this.#events.emit('run:progress', { runId: execution.id, task: execution.run.task, ...progress });
    void this.#track(
      this.#store.recordProgress({ runId: execution.id, fencingToken: execution.fencingToken }, progress, this.#clock.now()),
    ).catch((error: unknown) => this.#reportError(error, 'progress'));
  }

  #onSettled(execution: Execution, settlement: Settlement, value: unknown): void {
    const job = execution.job;
    const runtime = job.runtime;
    const policy = runtime.policy;
    const now = this.#clock.now();
    const status = endStatus(settlement, execution.cause);
    const thrown = execution.cause !== null ? execution.abortError : value;
    let output: RunRecord['output'] = null;
    if (settlement === 'returned') {
      const converted = toJsonOutput(value, this.#options.maxOutputBytes);
      output = converted.value;
      if (!converted.ok) {
        this.#logger.warn({ task: runtime.name, runId: execution.id }, converted.problem);
        this.#events.emit('error', { error: new Error(converted.problem), context: 'output' });
      }
    }
    const retry = status !== 'succeeded' && shouldRetry(policy.retry, status, job.attempt, thrown);
    const retryAt = retry ? now + retryDelay(policy.retry, job.attempt, this.#random) : null;
    // The slot is free now, even if an abandoned handler is still running somewhere.
    this.#executions.delete(execution.id);
    runtime.running--;
    this.#dispatcher.release();
    if (execution.leaseLost) {
      this.#events.emit('run:lost', { runId: execution.id, task: runtime.name });
      this.#backlogStep(job);
      this.#checkDrained();
      return;
    }
    const completion = {
      runId: execution.id,
      fencingToken: execution.fencingToken,
      status,
      finishedAt: now,
      output,
      error: status === 'succeeded' ? null : captureError(thrown),
      retryAt,
      progress: execution.progress,
      takeQueued: this.#state === 'running',
    };
    void this.#track(this.#store.finish(completion, now))
      .then((outcome) => {
        if (outcome.kind === 'fenced') {
          this.#events.emit('run:lost', { runId: execution.id, task: runtime.name });
          return;
        }
        runtime.lastRun = outcome.run;
        this.#stopRecords?.[outcome.run.status === 'interrupted' ? 'interrupted' : 'finished'].push(outcome.run);
        this.#events.emit('run:finished', outcome.run);
        if (retryAt !== null) this.#scheduleRetry(runtime, job, retryAt);
        if (outcome.queued !== null) this.#submitQueued(outcome.queued);
      })
      .catch((error: unknown) => this.#reportError(error, 'store'))
      .finally(() => {
        this.#backlogStep(job);
        this.#pump(runtime);
        this.#checkDrained();
      });
  }

  #scheduleRetry(runtime: TaskRuntime, previous: Pick<Job, 'slot' | 'scheduledFor' | 'attempt'>, retryAt: number): void {
    if (this.#state !== 'running') return;
    const entry = timerEntry(() => {
      this.#retryEntries.delete(entry);
      if (runtime.state !== 'active') return;
      this.#submit(runtime, {
        slot: previous.slot,
        trigger: 'retry',
        scheduledFor: previous.scheduledFor,
        dueAt: retryAt,
        attempt: previous.attempt + 1,
      });
    });
    this.#retryEntries.add(entry);
    this.#timers.atWall(entry, retryAt);
  }

  #onLeasesLost(runIds: readonly string[]): void {
    for (const id of runIds) {
      const execution = this.#executions.get(id);
      if (execution === undefined) continue;
      execution.leaseLost = true;
      this.#logger.warn({ task: execution.run.task, runId: id }, 'lease lost; aborting the run');
      execution.abort('lease-lost');
    }
  }

  // ─── What other instances changed ─────────────────────────────────────────────────────────

  #applyPoll(result: PollResult): void {
    if (this.#state !== 'running') return;
    const now = this.#clock.now();
    for (const trigger of result.triggers) {
      const runtime = this.#tasks.get(trigger.task);
      if (runtime?.state === 'active') this.#submitTrigger(runtime, trigger.id, trigger.requestedAt);
    }
    for (const id of result.cancels) this.#executions.get(id)?.abort('cancel');
    for (const change of result.paused) {
      const runtime = this.#tasks.get(change.task);
      if (runtime === undefined || runtime.paused === change.paused) continue;
      runtime.paused = change.paused;
      this.#events.emit(change.paused ? 'task:paused' : 'task:resumed', { task: change.task });
    }
    for (const run of result.interrupted) {
      const runtime = this.#tasks.get(run.task);
      this.#events.emit('run:finished', run);
      if (runtime === undefined) continue;
      runtime.lastRun = run;
      if (!shouldRetry(runtime.policy.retry, 'interrupted', run.attempt, new LeaseExpiredError(run.instance))) continue;
      const retryAt = now + retryDelay(runtime.policy.retry, run.attempt, this.#random);
      void this.#track(this.#store.scheduleRetry(run.id, retryAt)).catch((error: unknown) => this.#reportError(error, 'store'));
      this.#scheduleRetry(runtime, { slot: `t:${run.scheduledFor.getTime()}`, scheduledFor: run.scheduledFor.getTime(), attempt: run.attempt }, retryAt);
    }
    for (const retry of result.retries) {
      const runtime = this.#tasks.get(retry.task);
      if (runtime?.state !== 'active') continue;
      this.#submit(runtime, { slot: retry.slot, trigger: 'retry', scheduledFor: retry.scheduledFor, dueAt: retry.retryAt, attempt: retry.attempt });
    }
    for (const queued of result.queued) this.#submitQueued(queued);
    // A backlog job that found the task busy elsewhere may go now.
    for (const runtime of [...this.#withBacklog]) this.#pump(runtime);
    this.#checkIdle();
  }

  async #setPaused(name: string, paused: boolean): Promise<void> {
    this.#assertRunning(paused ? 'pause' : 'resume');
    const runtime = this.#runtime(name);
    await this.#track(this.#store.setPaused(name, paused, this.#clock.now()));
    if (runtime.paused !== paused) {
      runtime.paused = paused;
      this.#events.emit(paused ? 'task:paused' : 'task:resumed', { task: name });
    }
  }

  // ─── Stop ─────────────────────────────────────────────────────────────────────────────────

  async #shutdown(timeoutMs: number): Promise<StopReport> {
    const startedAt = this.#clock.monotonic();
    if (this.#state === 'idle' || this.#state === 'stopped') {
      this.#state = 'stopped';
      return this.#report(startedAt, [], []);
    }
    this.#state = 'stopping';
    this.#stopRecords = { finished: [], interrupted: [] };
    this.#unsubscribe?.();
    this.#poller.stop();
    this.#heartbeat.stop();
    this.#pruner.stop();
    const dropped = this.#dispatcher.close();
    this.#timers.clear();
    this.#retryEntries.clear();
    for (const runtime of this.#tasks.values()) {
      if (!runtime.hasBacklog) continue;
      dropped.push(...runtime.activity.backlog);
      runtime.activity.backlog = [];
      runtime.activity.backlogBusy = false;
    }
    this.#withBacklog.clear();
    this.#recordDropped(dropped);
    for (const execution of this.#executions.values()) execution.abort('shutdown', false);
    await this.#drained(timeoutMs);
    for (const execution of [...this.#executions.values()]) execution.abandon();
    // Writing the records of abandoned runs gets a short grace of its own.
    await this.#drained(Math.max(1_000, timeoutMs - (this.#clock.monotonic() - startedAt)));
    this.#timers.stop();
    this.#timers.clear();
    try {
      await this.#store.close();
    } catch (error) {
      this.#reportError(error, 'store');
    }
    this.#state = 'stopped';
    const records = this.#stopRecords;
    const report = this.#report(startedAt, records.finished, records.interrupted);
    this.#logger.info({ instance: this.instance, interrupted: report.interrupted.length }, 'scheduler stopped');
    this.#events.emit('scheduler:stopped', report);
    this.#checkIdle();
    return report;
  }

  /**
   * Ticks still waiting when the scheduler stops. A tick no later claim has overtaken is left
   * alone: the persisted cursor has not passed it, so another instance runs it or the next start
   * applies `catchUp` to it (recording it here would take it away from a replica that is still
   * running). An overtaken one would fall through the cracks, so it is recorded skipped
   * (`missed`), and pending skip records are written as they are.
   */
  #recordDropped(jobs: readonly Job[]): void {
    const now = this.#clock.now();
    const records = jobs
      .filter((job) => job.skip !== null || (job.attempt === 1 && job.slot.startsWith('t:') && job.scheduledFor < job.runtime.activity.maxTick))
      .map((job) => claimRequest(job, this.instance, this.#options.leaseMs, job.skip ?? 'missed'));
    if (records.length === 0) return;
    void this.#track(this.#store.claim(records, now))
      .then((outcomes) => {
        for (const outcome of outcomes) if (outcome.kind === 'skipped') this.#events.emit('tick:skipped', outcome.run);
      })
      .catch((error: unknown) => this.#reportError(error, 'store'));
  }

  #report(startedAt: number, finished: RunRecord[], interrupted: RunRecord[]): StopReport {
    return { durationMs: Math.max(0, this.#clock.monotonic() - startedAt), finished, interrupted };
  }

  /** Resolves when no execution or store write is left, or after `timeoutMs`. */
  #drained(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const deadline = timerEntry(() => done());
      const done = () => {
        this.#timers.cancel(deadline);
        this.#onDrained = null;
        resolve();
      };
      this.#onDrained = done;
      this.#timers.start();
      this.#timers.after(deadline, timeoutMs);
      this.#checkDrained();
    });
  }

  #checkDrained(): void {
    if (this.#onDrained !== null && this.#executions.size === 0 && this.#tracked === 0) this.#onDrained();
  }

  // ─── Helpers ──────────────────────────────────────────────────────────────────────────────

  #track<T>(work: Promise<T>): Promise<T> {
    this.#tracked++;
    return work.finally(() => {
      this.#tracked--;
      this.#checkDrained();
      this.#checkIdle();
    });
  }

  #isIdle(): boolean {
    return (
      this.#executions.size === 0 &&
      this.#tracked === 0 &&
      this.#dispatcher.idle &&
      this.#toRegister.length === 0 &&
      !this.#registerScheduled &&
      this.#withBacklog.size === 0 &&
      !(this.#state === 'running' && this.#timers.hasDue())
    );
  }

  #checkIdle(): void {
    if (this.#idleWaiters.length === 0) return;
    // Settle follow-up work first (microtask-scheduled claims and registrations).
    queueMicrotask(() => {
      if (this.#idleWaiters.length === 0 || !this.#isIdle()) return;
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const resolve of waiters) resolve();
    });
  }

  #reportError(error: unknown, context: ErrorContext): void {
    this.#logger.error({ err: error, context }, 'caretaker error');
    this.#events.emit('error', { error, context });
  }

  #runtime(name: string): TaskRuntime {
    const runtime = this.#tasks.get(name);
    if (runtime === undefined) throw new TaskNotFoundError(name, [...this.#tasks.keys()]);
    return runtime;
  }

  #assertAccepting(what: string): void {
    if (this.#state === 'stopping' || this.#state === 'stopped') {
      throw new CaretakerError(ErrorCode.SchedulerState, `${what}() called on a ${this.#state} scheduler`);
    }
  }

  #assertRunning(what: string): void {
    if (this.#state !== 'running') {
      throw new CaretakerError(ErrorCode.SchedulerState, `${what}() needs a started scheduler; it is ${this.#state} (call start() first)`);
    }
  }

  #info(runtime: TaskRuntime): TaskInfo {
    const task = runtime;
    const next = runtime.state === 'active' && !runtime.paused && runtime.nextTick !== null ? new Date(runtime.dueAt(runtime.nextTick)) : null;
    return {
      name: task.name,
      description: task.description,
      schedule: task.schedule.spec,
      scheduleText: task.schedule.describe(),
      paused: runtime.state === 'active' ? runtime.paused : task.startPaused,
      nextRunAt: next,
      lastRun: runtime.lastRun,
      running: runtime.running,
      overlap: task.policy.overlap,
      priority: task.policy.priority,
      timeoutMs: Number.isFinite(task.policy.timeoutMs) ? task.policy.timeoutMs : null,
      staleAfterMs: task.policy.staleAfterMs,
    };
  }
}
