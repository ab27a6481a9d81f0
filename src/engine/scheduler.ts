import { memoryStore } from '../store/memory/memory-store.ts';
import { checkDependencies, DependencyTracker } from './dependencies.ts';
import type { LoadProbe } from './load.ts';
import { QuietTime } from './quiet-time.ts';
import type { Store, TaskOverrides } from '../store/port.ts';
import type { BackfillRecord, RunLog, RunPage, RunQuery, RunRecord } from '../store/records.ts';
import { parseDuration } from '../util/duration.ts';
import { BackfillNotFoundError, CaretakerError, DuplicateTaskError, ErrorCode, InvalidOptionError, invalidOption, RunNotFoundError, TaskNotFoundError } from '../util/errors.ts';
import { uuidv7 } from '../util/ids.ts';
import { type Logger, silentLogger } from '../util/logger.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';
import { systemClock } from './clock.ts';
import type { EngineContext } from './context.ts';
import { Dispatcher } from './dispatcher.ts';
import type { ErrorContext, SchedulerEvents, StopReport } from './events.ts';
import { type BackfillRange, planBackfill } from './backfill-plan.ts';
import { BackfillRunner } from './backfill-runner.ts';
import { Beacon, Heartbeat, Poller, Pruner } from './housekeeping.ts';
import { MAX_ENDS_PER_WRITE } from './end-writer.ts';
import { AlertDelivery } from './alert-delivery.ts';
import { AlertWatch } from './alert-watch.ts';
import type { NotifyChannel } from '../notify/channels.ts';
import type { ResolvedNotify } from '../notify/config.ts';
import { JobRouter } from './job-router.ts';
import { pauseNote, type PauseOptions } from './pause-note.ts';
import { PeerView } from './peer-share.ts';
import { PreciseWait } from './precise-wait.ts';
import { applyRemoteChanges } from './remote-changes.ts';
import { RunController } from './run-controller.ts';
import { stopOnSignals, type StopOnSignalsOptions } from './stop-on-signals.ts';
import { resolveSchedulerOptions, type ResolvedSchedulerOptions, type SchedulerOptions } from './scheduler-options.ts';
import type { TaskDefinition, TaskInfo, TaskSettings } from './task.ts';
import { defaultPolicy, isPlainName, type PlainDefinition, plainSchedule, type ResolvedTask, resolveTask, type TaskPolicy, toDefinition } from './task-options.ts';
import { patchOverrides, sameOverrides, type TaskOverridePatch, withOverrides } from './overrides.ts';
import { storeBackoff } from './retry.ts';
import { TaskRuntime } from './task-runtime.ts';
import { StoreClock } from './store-clock.ts';
import { guardedTracer, noTracer, type RunTracer } from './tracing.ts';
import { TickPlanner } from './tick-planner.ts';
import { timerEntry, TimerQueue } from './timer-queue.ts';

/** Where a scheduler is in its life. */
export type SchedulerState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

const DEFAULT_STOP_TIMEOUT_MS = 30_000;
/** Longest sleep of the timer: how late a wall-clock jump can be noticed at worst. */
const MAX_SLEEP_MS = 60_000;
const JUMP_THRESHOLD_MS = 1_000;
/**
 * With a real clock, ticks are claimed this long before they are due and their handlers
 * released at the due instant, so claim work and store round trips do not add to lateness. Long
 * enough for the young-generation collection a claim's allocations set off (2–10 ms with a store
 * that keeps history in memory) to end before the instant, not between it and the starts
 * (decision 036).
 */
const PREPARE_MS = 20;
/** A burst is claimed this many times its expected claim time ahead (decision 025). */
const BURST_LEAD_MARGIN = 1.5;
const PRUNE_INTERVAL_MS = 3_600_000;
const FIRST_PRUNE_DELAY_MS = 60_000;
/** Runs outstanding here (executing or being recorded) from which pruning waits: a burst's worth, more than one write of ends. */
const PRUNE_YIELD_RUNS = MAX_ENDS_PER_WRITE;
/** A store that comes back is used within this; a store that stays down sees a claim per replica this often. */
const MAX_CLAIM_BACKOFF_MS = 5_000;
const DEFAULT_POLL_INTERVAL_MS = 5_000;
/** Round trips to the store's clock at start; the quickest one sets the offset. */
const CLOCK_SYNC_SAMPLES = 3;
/** A host clock further than this off the store's is warned about (and again when it recovers). */
const CLOCK_OFFSET_WARN_MS = 1_000;

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
  readonly #clock: StoreClock;
  readonly #logger: Logger;
  readonly #tracer: RunTracer;
  readonly #newId: () => string;
  readonly #events: TypedEmitter<SchedulerEvents>;
  readonly #timers: TimerQueue;
  readonly #dispatcher: Dispatcher;
  readonly #jobs: JobRouter;
  readonly #backfills: BackfillRunner;
  readonly #ticks: TickPlanner;
  readonly #runs: RunController;
  readonly #quiet: QuietTime;
  readonly #deps: DependencyTracker;
  readonly #poller: Poller;
  readonly #beacon: Beacon;
  readonly #heartbeat: Heartbeat;
  readonly #pruner: Pruner;
  /** Alerts (`notify`); null without channels. */
  readonly #alertWatch: AlertWatch | null = null;
  readonly #alertDelivery: AlertDelivery | null = null;
  readonly #policies = new Map<string, TaskPolicy>();
  readonly #tasks = new Map<string, TaskRuntime>();
  /** One object for all tasks' timers, so the scheduler's API stays free of engine callbacks. */
  readonly #sink = { onTaskDue: (runtime: TaskRuntime) => this.#ticks.onTaskDue(runtime) };
  #state: SchedulerState = 'idle';
  #tracked = 0;
  #idleWaiters: (() => void)[] = [];
  #onDrained: (() => void) | null = null;
  #claimBackoffMs = 0;
  #unsubscribe: (() => void) | null = null;
  #unsubscribeDeps: (() => void) | null = null;
  #stopPromise: Promise<StopReport> | null = null;
  #starting: Promise<void> | null = null;
  #clockSkewed = false;
  #warnedSharedName = false;
  /** The live instances running the same tasks, from the polls: a burst is shared among them. */
  readonly #peers: PeerView;

  /**
   * @param services what the engine cannot build itself without I/O: `createScheduler` passes the
   * builder of webhook and command alert channels.
   */
  constructor(options: SchedulerOptions = {}, services: SchedulerServices = {}) {
    this.#options = resolveSchedulerOptions(options);
    this.#store = options.store ?? memoryStore();
    this.#clock = new StoreClock(options.clock ?? systemClock);
    this.#logger = options.logger ?? silentLogger;
    this.#tracer = guardedTracer(typeof options.tracing === 'object' ? options.tracing : noTracer, (error) => this.#reportError(error, 'tracing'));
    this.instance = options.instance ?? `caretaker-${uuidv7().slice(-12)}`;
    this.#events = new TypedEmitter((error, event) => {
      this.#logger.error({ err: error, event }, 'event listener threw');
      if (event !== 'error') this.#events.emit('error', { error, context: 'listener' });
    });
    const precise = new PreciseWait(this.#clock);
    const pollIntervalMs = this.#options.pollIntervalMs ?? this.#store.suggestedPollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.#peers = new PeerView(pollIntervalMs);
    this.#timers = new TimerQueue(this.#clock, {
      prepareMs: precise.precise ? Math.max(PREPARE_MS, this.#store.claimLeadMs ?? 0) : 0,
      unref: this.#options.unref,
      maxSleepMs: MAX_SLEEP_MS,
      jumpThresholdMs: JUMP_THRESHOLD_MS,
      onJump: (jump) => {
        if (jump.deltaMs > 0) this.#ticks.jumped = true;
        this.#logger.warn({ deltaMs: jump.deltaMs }, 'wall clock jumped; due instants recomputed');
        this.#events.emit('clock:jump', { deltaMs: jump.deltaMs });
      },
      onWakeEnd: () => {
        this.#ticks.jumped = false;
        this.#checkIdle();
      },
      // A burst is claimed early enough for this instance's share to be claimed by its instant,
      // with room to spare (each claim's lease covers the wait). Only where claims go ahead at
      // all: a virtual clock releases nothing early.
      // Until the first poll tells who the peers are, no burst goes early: this instance would
      // claim the whole burst alone (reconsidered once the poll answers).
      ...(precise.precise
        ? {
            burstLeadMs: (count: number) =>
              this.#peers.known ? BURST_LEAD_MARGIN * this.#dispatcher.claimCostMs * (count / Math.max(1, this.#peers.sharing(this.#clock.monotonic()).length)) : 0,
          }
        : {}),
    });
    this.#dispatcher = new Dispatcher({
      store: this.#store,
      timers: this.#timers,
      instance: this.instance,
      leaseMs: this.#options.leaseMs,
      concurrency: this.#options.concurrency,
      now: () => this.#clock.now(),
      monotonic: () => this.#clock.monotonic(),
      onDispatch: (jobs) => this.#jobs.onDispatch(jobs),
      onOutcome: (job, outcome) => {
        this.#claimBackoffMs = 0;
        this.#jobs.onClaimed(job, outcome);
      },
      onClaimError: (error) => this.#onClaimError(error),
      peers: () => this.#peers.sharing(this.#clock.monotonic()),
      unsettledPeers: () => this.#peers.all,
      reportError: (error, context) => this.#reportError(error, context),
    });
    this.#newId = options.idGenerator ?? (() => uuidv7(this.#clock.now()));
    const ctx: EngineContext = {
      instance: this.instance,
      options: this.#options,
      store: this.#store,
      clock: this.#clock,
      timers: this.#timers,
      dispatcher: this.#dispatcher,
      events: this.#events,
      logger: this.#logger,
      tracer: this.#tracer,
      random: options.random ?? Math.random,
      newId: this.#newId,
      tasks: this.#tasks,
      running: () => this.#state === 'running',
      track: (work) => this.#track(work),
      reportError: (error, context) => this.#reportError(error, context),
      changed: () => {
        this.#checkDrained();
        this.#checkIdle();
      },
    };
    this.#backfills = new BackfillRunner(ctx, () => this.#jobs, (runId) => this.#runs.abort(runId, 'cancel'));
    this.#jobs = new JobRouter(ctx, (job, run, lastSuccess, replaced) => this.#runs.start(job, run, lastSuccess, replaced), this.#backfills);
    this.#ticks = new TickPlanner(ctx, this.#jobs, async (batch) => {
      // A store written before overrides existed has none to give.
      if (typeof this.#store.listOverrides !== 'function') return;
      const stored = await ctx.track(this.#store.listOverrides(batch.map((r) => r.name)));
      // Most registrations find none stored: nothing to look up.
      if (stored.length === 0) return;
      const byTask = new Map(stored.map((o) => [o.task, o]));
      for (const runtime of batch) {
        const found = byTask.get(runtime.name);
        // None stored: nothing to take (a clear made elsewhere reaches this instance by its poll).
        if (found !== undefined) this.#takeOverrides(runtime, found.overrides, found.version, true);
      }
    });
    this.#deps = new DependencyTracker(ctx, this.#jobs);
    this.#quiet = new QuietTime(ctx, options.loadProbe ?? services.loadProbe ?? null);
    this.#runs = new RunController(ctx, this.#jobs, precise, this.#quiet, () => this.#heartbeat.ensure(), () => this.#heartbeat.renewNow());
    const host = { store: this.#store, timers: this.#timers, instance: this.instance, now: () => this.#clock.now(), monotonic: () => this.#clock.monotonic(), track: ctx.track, reportError: ctx.reportError };
    this.#beacon = new Beacon(pollIntervalMs, () => [...this.#tasks.keys()]);
    this.#poller = new Poller(host, pollIntervalMs, this.#options.leaseMs, () => this.#runs.held(), this.#beacon, (result, trip) => {
      if (result.storeNow !== undefined && this.#options.storeClock) this.#measureClock(trip.sentAt, trip.answeredAt, result.storeNow);
      // More peers share a burst, so each claims less and later; fewer, the other way round.
      if (result.peers !== undefined && this.#peers.update(result.peers, this.#clock.monotonic())) this.#timers.reconsiderBursts();
      if (result.tasksCurrent === false && !this.#warnedSharedName) {
        this.#warnedSharedName = true;
        this.#logger.warn({ instance: this.instance }, `another process uses the instance name "${this.instance}": give each instance its own name (scheduler.instance), or the CLI may misjudge which tasks run`);
      }
      applyRemoteChanges(ctx, this.#jobs, this.#runs, result, trip.sentAt, (runtime, overrides, version) => this.#takeOverrides(runtime, overrides, version, false), this.#backfills);
      // Ends on other instances (or missed here) start dependent tasks.
      this.#deps.checkAll();
    });
    this.#heartbeat = new Heartbeat(host, this.#options.leaseMs, this.#runs);
    this.#pruner = new Pruner(host, this.#options.retention, PRUNE_INTERVAL_MS, () => this.#runs.outstanding >= PRUNE_YIELD_RUNS);
    const notify = this.#options.notify;
    if (notify !== null && notify.channels.size > 0) {
      if (typeof this.#store.enqueueNotifications !== 'function') throw invalidOption('createScheduler', 'notify', 'channels', `this ${this.#store.kind} store predates alerts (it has no enqueueNotifications); update the store, or remove notify`);
      const channels = (services.buildChannels ?? customChannelsOnly)(notify);
      const slowest = Math.max(...[...notify.channels.values()].map((c) => c.timeoutMs));
      this.#alertDelivery = new AlertDelivery(ctx, channels, notify.retry, pollIntervalMs, slowest);
      this.#alertWatch = new AlertWatch(ctx, notify, this.#alertDelivery);
    }
  }

  /** The scheduler's state. */
  get state(): SchedulerState {
    return this.#state;
  }

  /** The store this scheduler uses. */
  get store(): Store {
    return this.#store;
  }

  /**
   * How far the store's clock, which the scheduler runs on, is ahead of this process's wall
   * clock, in ms: 0 for stores on one host (SQLite, memory), measured on round trips for
   * PostgreSQL. Ticks and leases follow the store's clock, so a skewed host runs nothing early.
   */
  get clockOffsetMs(): number {
    return this.#clock.offsetMs;
  }

  /** The scheduler's time (the store's clock where it has one), in Unix ms. */
  now(): number {
    return this.#clock.now();
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
    const defaults = this.#options.defaults;
    const plain = plainSchedule(definition, defaults);
    let runtime: TaskRuntime | null = null;
    if (plain !== null) {
      // Read once and checked as read: a getter may answer each read differently.
      const { name, handler } = definition as PlainDefinition;
      if (isPlainName(name) && typeof handler === 'function') runtime = new TaskRuntime(name, plain, handler, defaultPolicy(defaults, this.#policies), this.#sink);
    }
    runtime ??= TaskRuntime.of(resolveTask(definition, defaults, this.#policies), this.#sink);
    if (this.#tasks.has(runtime.name)) throw new DuplicateTaskError(runtime.name);
    // Before start, an upstream may be added after its downstream task: start() checks them all.
    this.#checkDependencies(runtime.name, runtime.dependency, this.#state !== 'idle');
    this.#tasks.set(runtime.name, runtime);
    this.#deps.invalidate();
    this.#beacon.changed();
    if (this.#state === 'running') this.#activate([runtime]);
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
    const definition = { ...(runtime.definition ?? toDefinition(runtime)), ...changes, name } as TaskDefinition;
    // The definition must hold on its own; run-time changes stay over it where they still fit.
    const resolved = resolveTask(definition, this.#options.defaults, this.#policies);
    // Upstream tasks removed since are not held against other changes of the task.
    const relinked = JSON.stringify(resolved.dependency) !== JSON.stringify(runtime.dependency);
    this.#checkDependencies(name, resolved.dependency, relinked && this.#state !== 'idle');
    if (runtime.definition !== null) runtime.definition = definition;
    return this.#apply(runtime, this.#effective(runtime, definition));
  }

  /**
   * Changes options of a task at run time, over its code or config definition: `schedule`,
   * `timeout`, `retry`, `overlap`, `maxConcurrent`, `catchUp`, `priority`, `jitter` (as in a
   * config file; `null` removes an override). Stored, so every instance applies it within a poll
   * (at once on PostgreSQL) and it survives restarts; `update` and config reloads go on changing
   * the options it does not set. A changed schedule starts afresh, as `update` does. Validated as
   * the definition is: nothing is stored when a value is refused. Changes made at once from
   * several places merge: each is applied over the one stored before it.
   *
   * @example
   * await scheduler.override('db-vacuum', { schedule: { cron: '0 4 * * *' }, timeout: '45m' }, { by: 'ops@example.com' });
   */
  async override(name: string, patch: TaskOverridePatch, options: { readonly by?: string } = {}): Promise<TaskInfo> {
    this.#assertRunning('override');
    const runtime = this.#runtime(name);
    const subject = `override of task "${name}"`;
    patchOverrides(null, patch, subject, true);
    return this.#writeOverrides(runtime, (current) => {
      const fields = patchOverrides(current?.fields ?? null, patch, subject, false);
      return Object.keys(fields).length === 0 ? null : { fields, by: options.by ?? 'library', at: this.now() };
    });
  }

  /**
   * Drops a task's run-time overrides: its code or config definition applies again, on every instance.
   *
   * @example
   * await scheduler.clearOverrides('db-vacuum');
   */
  async clearOverrides(name: string): Promise<TaskInfo> {
    this.#assertRunning('clearOverrides');
    return this.#writeOverrides(this.#runtime(name), () => null);
  }

  /**
   * Writes what `next` makes of the stored overrides, checked against the definition first, and
   * only over the overrides it read (another instance may change them meanwhile: then again).
   */
  async #writeOverrides(runtime: TaskRuntime, next: (current: TaskOverrides | null) => TaskOverrides | null): Promise<TaskInfo> {
    const name = runtime.name;
    // A task being (re-)registered is changed once the store has answered for it.
    if (runtime.state === 'registering') await this.#ticks.registered();
    if (runtime.state === 'registering') {
      throw new CaretakerError(ErrorCode.SchedulerState, `task "${name}" is being registered with the store; change it once it is (try again in a moment)`);
    }
    const definition = runtime.definition ?? toDefinition(runtime);
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = (await this.#track(this.#store.listOverrides([name])))[0]?.overrides ?? null;
      const overrides = next(current);
      if (overrides !== null) resolveTask(withOverrides(definition, overrides.fields), this.#options.defaults, this.#policies);
      const written = await this.#track(this.#store.setOverrides(name, overrides, this.now(), current));
      if (written.status === 'unknown') throw new TaskNotFoundError(name, [...this.#tasks.keys()]);
      if (written.status === 'changed') continue;
      // A newer change (made after this one) may have reached this instance while the write's answer was on its way.
      if (written.version < runtime.overridesVersion) return this.#info(runtime);
      runtime.overridesVersion = written.version;
      runtime.definition = overrides === null ? null : definition;
      runtime.overrides = overrides;
      return this.#apply(runtime, this.#effective(runtime, definition));
    }
    throw new CaretakerError(ErrorCode.SchedulerState, `task "${name}" is being changed from elsewhere at the same time; try again`);
  }

  /**
   * The task its definition and overrides make. Overrides the definition no longer takes (a
   * reload changed it underneath) are reported, kept in the store and shown, and left unapplied.
   */
  #effective(runtime: TaskRuntime, definition: TaskDefinition): ResolvedTask {
    runtime.overridesProblem = null;
    if (runtime.overrides !== null) {
      try {
        return resolveTask(withOverrides(definition, runtime.overrides.fields), this.#options.defaults, this.#policies);
      } catch (error) {
        if (!(error instanceof InvalidOptionError)) throw error;
        const changed = Object.keys(runtime.overrides.fields).join(', ');
        runtime.overridesProblem = `its run-time change (${changed}) no longer fits the definition: ${error.message.replace(/^[^:]*: /, '')}`;
        this.#reportError(
          new InvalidOptionError(`task "${runtime.name}"`, [
            { path: changed, received: 'a run-time change', fix: `${runtime.overridesProblem}; change it again, or reset it (clearOverrides, caretaker reset ${runtime.name})` },
          ]),
          'store',
        );
      }
    }
    return resolveTask(definition, this.#options.defaults, this.#policies);
  }

  /** Applies a task's new effective definition: a changed schedule starts afresh. */
  #apply(runtime: TaskRuntime, task: ResolvedTask): TaskInfo {
    const rekeyed = task.schedule.key !== runtime.schedule.key;
    runtime.apply(task);
    if (!this.#options.runSchedules) {
      // Nothing is planned here: the new definition applies to the next triggered run.
    } else if (rekeyed && runtime.state === 'active') {
      this.#timers.cancel(runtime);
      this.#ticks.queue(runtime);
    } else if (runtime.state === 'active') {
      this.#ticks.arm(runtime);
    }
    this.#deps.invalidate();
    const info = this.#info(runtime);
    this.#events.emit('task:updated', info);
    return info;
  }

  /**
   * Overrides read from the store (a poll, or before registering): applied when newer than those
   * this instance holds, whatever order the answers arrive in.
   */
  #takeOverrides(runtime: TaskRuntime, overrides: TaskOverrides | null, version: number | undefined, registering: boolean): void {
    if (version !== undefined) {
      if (version <= runtime.overridesVersion) return;
      runtime.overridesVersion = version;
    }
    if (sameOverrides(runtime.overrides, overrides)) return;
    const definition = runtime.definition ?? toDefinition(runtime);
    runtime.definition = overrides === null ? null : definition;
    runtime.overrides = overrides;
    const task = this.#effective(runtime, definition);
    // While registering, the schedule is bound afterwards with whatever key it has now.
    if (registering) runtime.apply(task);
    else this.#apply(runtime, task);
  }

  /**
   * Tells tasks with `defer: { while: { busy: true } }` that the service is serving a burst (true)
   * or is quiet again (false): their due runs wait until it is, up to their `maxDelay`.
   *
   * @example
   * app.use((req, res, next) => { inFlight++; scheduler.setBusy(inFlight > 50); res.on('finish', () => scheduler.setBusy(--inFlight > 50)); next(); });
   */
  setBusy(busy: boolean): void {
    if (typeof busy !== 'boolean') throw invalidOption('setBusy', 'busy', busy, 'pass true while the service is busy, false when it is quiet again');
    this.#quiet.serviceBusy = busy;
  }

  /** True after `setBusy(true)`, until `setBusy(false)`. */
  get busy(): boolean {
    return this.#quiet.serviceBusy;
  }

  /** Unregisters a task; runs in progress finish normally. False when there was no such task. */
  remove(name: string): boolean {
    const runtime = this.#tasks.get(name);
    if (runtime === undefined) return false;
    const orphans = this.#deps.downstreamOf(name);
    if (orphans.length > 0) this.#logger.warn({ task: name, downstream: orphans }, `task "${name}" removed: ${orphans.join(', ')} run after it, and will not run after it until it is added again`);
    runtime.state = 'removed';
    this.#jobs.forget(runtime);
    this.#timers.cancel(runtime);
    this.#tasks.delete(name);
    this.#deps.invalidate();
    this.#beacon.changed();
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

  /**
   * The next `count` instants a task is due (jitter included), from its next tick on this
   * instance, or from now before `start()`. Paused tasks get the instants they would run at.
   *
   * @example
   * scheduler.upcoming('db-vacuum', 3); // [2026-12-08T02:00:00.000Z, 2026-12-09T02:00:00.000Z, …]
   */
  upcoming(name: string, count = 10): Date[] {
    const runtime = this.#runtime(name);
    if (!Number.isInteger(count) || count < 1 || count > 1_000) throw invalidOption('upcoming', 'count', count, 'use a whole number from 1 to 1000');
    const now = this.now();
    // While (re-)registering, the persisted anchor is not known yet: the schedule as if bound now.
    const active = runtime.state === 'active' && runtime.bound !== null;
    const bound = active ? (runtime.bound as NonNullable<TaskRuntime['bound']>) : runtime.schedule.bind(null, now);
    const out: Date[] = [];
    for (let tick = (active ? runtime.nextTick : null) ?? bound.nextAfter(now - 1); tick !== null && out.length < count; tick = bound.nextAfter(tick)) {
      out.push(new Date(runtime.dueAt(tick)));
    }
    return out;
  }

  // ─── Lifecycle ────────────────────────────────────────────────────────────────────────────

  /** Opens the store, registers the tasks, catches up missed ticks and starts the timer. */
  async start(): Promise<void> {
    if (this.#state !== 'idle') {
      throw new CaretakerError(ErrorCode.SchedulerState, `start() called on a ${this.#state} scheduler; a scheduler starts once (create a new one to start again)`);
    }
    this.#starting = this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    // Tasks added before start may name upstream tasks added after them: all are known now.
    // Only tasks with `after` can close a cycle or name an unknown task: most have none.
    const linked: string[] = [];
    // forEach, not for-of: a loop that runs once over 100,000 tasks runs unoptimised, where each
    // step of an iterator allocates its result.
    this.#tasks.forEach((runtime) => runtime.dependency !== null && linked.push(runtime.name));
    checkDependencies((task) => this.#tasks.get(task)?.dependency, linked, (task) => `task "${task}"`, true);
    this.#state = 'starting';
    let opened = false;
    try {
      await this.#store.open();
      opened = true;
      // Before the first instant is computed: every replica then plans on the store's clock.
      await this.#syncClock();
      await this.#tracer.ready?.();
    } catch (error) {
      this.#state = 'idle';
      if (opened) await this.#store.close().catch(() => {});
      throw error;
    }
    this.#state = 'running';
    // stop() was called meanwhile (a SIGTERM during a slow boot): it runs as soon as this returns.
    if (this.#stopPromise !== null) return;
    this.#timers.start();
    if (!this.#options.runSchedules) {
      this.#activate([...this.#tasks.values()]);
      this.#logger.info({ instance: this.instance, tasks: this.#tasks.size, store: this.#store.kind }, 'scheduler started (runs only what is triggered here)');
      return;
    }
    this.#unsubscribe = this.#store.subscribe?.(() => this.#poller.pollNow()) ?? null;
    // Before registering: ticks missed in downtime are recorded then.
    this.#alertWatch?.start();
    const activatedAt = this.#clock.now();
    this.#tasks.forEach((runtime) => this.#deps.activated(runtime, activatedAt));
    this.#unsubscribeDeps = this.#events.on('run:finished', (run) => this.#deps.onFinished(run));
    try {
      await this.#ticks.register([...this.#tasks.values()]);
    } catch (error) {
      await this.#shutdown(0);
      throw error;
    }
    if (this.#state !== 'running') return;
    this.#poller.start();
    this.#pruner.start(FIRST_PRUNE_DELAY_MS);
    this.#alertDelivery?.start();
    this.#logger.info({ instance: this.instance, tasks: this.#tasks.size, store: this.#store.kind }, 'scheduler started');
    this.#events.emit('scheduler:started', { instance: this.instance, tasks: this.#tasks.size });
  }

  /**
   * Stops gracefully: no new runs start, and running handlers get until `timeout` to finish.
   * Each is aborted (reason `shutdown`) only its task's `abortGrace` before the deadline, and
   * whatever has not finished at the deadline is recorded `interrupted`. Resolves with a report
   * (which runs finished, which were interrupted) once no timer or handle of the scheduler is
   * left. Calling it again returns the same report.
   */
  stop(options: { readonly timeout?: number | string } = {}): Promise<StopReport> {
    if (this.#stopPromise !== null) return this.#stopPromise;
    const timeoutMs = options.timeout === undefined ? DEFAULT_STOP_TIMEOUT_MS : parseDuration(options.timeout);
    if (timeoutMs === undefined) {
      throw invalidOption('stop', 'timeout', options.timeout, 'is not a duration; use milliseconds or a string like "30s"');
    }
    // A stop during start() waits for it, then stops what it started.
    const starting = this.#state === 'starting' ? this.#starting : null;
    this.#stopPromise = starting === null ? this.#shutdown(timeoutMs) : starting.then(() => this.#shutdown(timeoutMs), () => this.#shutdown(timeoutMs));
    return this.#stopPromise;
  }

  /**
   * For plain Node processes: stop gracefully on SIGINT/SIGTERM (a second signal exits at once),
   * then exit. Returns a function that removes the listeners.
   *
   * @example
   * await scheduler.start();
   * scheduler.stopOnSignals({ timeout: '30s' });
   */
  stopOnSignals(options: StopOnSignalsOptions = {}): () => void {
    return stopOnSignals((timeout) => this.stop({ timeout }), options);
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
    if (runtime.state === 'active' && this.#state === 'running') this.#jobs.submitTrigger(runtime, id, now);
    return id;
  }

  /**
   * Runs a finished run's tick again, as its next attempt: trigger `retry`, the same
   * `scheduledFor` and idempotency key, linked to the run by `causedBy`. Any instance that runs
   * the task takes it, subject to the overlap policy; each call runs once. Resolves with the new
   * run's id. Throws {@link RunNotFoundError}, or `ERR_RUN_NOT_FINISHED` for a running run.
   *
   * @example
   * const [failed] = await scheduler.history({ task: 'nightly-report', status: 'failed', limit: 1 });
   * if (failed) await scheduler.retry(failed.id);
   */
  async retry(runId: string): Promise<string> {
    this.#assertRunning('retry');
    const run = await this.#track(this.#store.getRun(runId));
    if (run === null) throw new RunNotFoundError(runId);
    if (run.status === 'running') throw new CaretakerError(ErrorCode.RunNotFinished, `run "${runId}" of ${run.task} is still running; retry it once it has finished (or cancel it)`);
    const runtime = this.#tasks.get(run.task);
    const id = this.#newId();
    const now = this.#clock.now();
    const retryOf = { runId, scheduledFor: run.scheduledFor.getTime(), attempt: run.attempt };
    await this.#track(this.#store.requestTrigger({ id, task: run.task, requestedAt: now, retryOf }));
    if (runtime?.state === 'active' && this.#state === 'running') this.#jobs.submitTrigger(runtime, id, now, retryOf);
    return id;
  }

  /**
   * Runs every instant of a task's schedule in a past range (`from <= t <= to`) as trigger
   * `backfill`: one at a time (up to `maxConcurrent` with `overlap: 'allow'`), each instant once
   * across instances (every instance that runs the task takes part), waiting while the task is
   * paused. Refused when the range holds more than `backfillLimit` instants, or none. An `every`
   * schedule's cadence reaches back before the task existed. Resolves once it is stored.
   *
   * @example
   * const backfill = await scheduler.backfill('daily-report', { from: '2026-11-01T00:00:00Z', to: '2026-11-30T23:59:59Z' }, { by: 'ops@example.com' });
   * // later: await scheduler.cancelBackfill(backfill.id);
   */
  async backfill(name: string, range: BackfillRange, options: { readonly by?: string } = {}): Promise<BackfillRecord> {
    this.#assertRunning('backfill');
    this.#assertStoreHas('backfill', 'requestBackfill');
    const runtime = this.#runtime(name);
    const now = this.now();
    const bound = runtime.bound ?? runtime.schedule.bind(null, now);
    const { from, to, instants, requestedBy: by } = planBackfill(name, runtime.schedule, bound, range, options.by ?? 'library', now, this.#options.backfillLimit);
    const id = this.#newId();
    await this.#track(this.#store.requestBackfill({ id, task: name, from, to, instants, requestedBy: by, requestedAt: now }));
    this.#backfills.join({ id, task: name, instants });
    return (
      (await this.#track(this.#store.getBackfill(id))) ?? {
        id,
        task: name,
        from: new Date(from),
        to: new Date(to),
        status: 'running',
        requestedBy: by,
        requestedAt: new Date(now),
        endedAt: null,
        progress: { total: instants.length, pending: instants.length, running: 0, succeeded: 0, failed: 0, cancelled: 0, skipped: 0 },
      }
    );
  }

  /**
   * Cancels a backfill as a whole, on every instance: no more of its instants start, and its
   * running runs are cancelled. Resolves with its record; throws {@link BackfillNotFoundError}.
   *
   * @example
   * await scheduler.cancelBackfill(backfillId);
   */
  async cancelBackfill(id: string): Promise<BackfillRecord> {
    this.#assertRunning('cancelBackfill');
    this.#assertStoreHas('cancelBackfill', 'endBackfill');
    const result = await this.#track(this.#store.endBackfill(id, 'cancelled', this.now()));
    if (result === 'not-found') throw new BackfillNotFoundError(id);
    const record = await this.#track(this.#store.getBackfill(id));
    if (record === null) throw new BackfillNotFoundError(id);
    if (result === 'not-running') throw new CaretakerError(ErrorCode.BackfillNotRunning, `backfill ${record.id} of ${record.task} is ${record.status}; only a running backfill can be cancelled`);
    this.#backfills.drop(id);
    return record;
  }

  /** One backfill with its progress, or null (also from a store that predates backfills). */
  async getBackfill(id: string): Promise<BackfillRecord | null> {
    if (typeof this.#store.getBackfill !== 'function') return null;
    return this.#track(this.#store.getBackfill(id));
  }

  /**
   * Backfills with their progress, newest first.
   *
   * @example
   * const [latest] = await scheduler.backfills({ task: 'daily-report', limit: 1 });
   */
  async backfills(query: { readonly task?: string; readonly limit?: number } = {}): Promise<BackfillRecord[]> {
    if (typeof this.#store.listBackfills !== 'function') return [];
    return this.#track(this.#store.listBackfills(query));
  }

  /**
   * Pauses a task on every instance: its ticks are recorded skipped (`paused`) until resumed.
   * `note` says why, for whoever looks (the dashboard, `caretaker list`, the API); pausing a
   * paused task again replaces its note.
   *
   * @example
   * await scheduler.pause('db-retention', { note: 'migration running until 18:00 (ops-1423)' });
   */
  async pause(name: string, options: PauseOptions = {}): Promise<void> {
    await this.#setPaused(name, true, pauseNote(options));
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
    // Allowed while stopping too: runs go on until the stop deadline, and may be cancelled meanwhile.
    if (this.#state !== 'stopping') this.#assertRunning('cancel');
    const local = this.#runs.has(runId);
    const result = await this.#track(this.#store.requestCancel(runId, this.#clock.now()));
    if (result === 'not-found') throw new RunNotFoundError(runId);
    this.#runs.abort(runId, 'cancel');
    return local ? 'requested' : result;
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

  /**
   * What is kept of a run's log: the lines its handler wrote through `ctx.logger` (a command's
   * output), the newest within `runLogs.maxBytes`; null when it logged nothing. Lines of a run in
   * progress arrive every `runLogs.flushInterval` (and as `run:log` events on its instance).
   *
   * @example
   * for (const line of (await scheduler.runLog(runId))?.lines ?? []) console.log(line.level, line.message);
   */
  async runLog(runId: string): Promise<RunLog | null> {
    return this.#track(this.#store.getRunLog(runId));
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

  // ─── Internals ────────────────────────────────────────────────────────────────────────────

  /** Tasks added to a running scheduler: registered and planned, or only made triggerable. */
  /**
   * Refuses an `after` that would close a cycle, or (with `checkUnknown`) names a task not
   * registered. Only the task changed is checked: a task without `after` closes no cycle.
   */
  #checkDependencies(name: string, dependency: TaskRuntime['dependency'], checkUnknown: boolean): void {
    if (dependency === null) return;
    const lookup = (task: string) => (task === name ? dependency : this.#tasks.get(task)?.dependency);
    checkDependencies(lookup, [name], (task) => `task "${task}"`, checkUnknown);
  }

  #activate(runtimes: TaskRuntime[]): void {
    const now = this.#clock.now();
    for (const runtime of runtimes) this.#deps.activated(runtime, now);
    if (this.#options.runSchedules) for (const runtime of runtimes) this.#ticks.queue(runtime);
    else for (const runtime of runtimes) runtime.state = 'active';
  }

  /** A few round trips to the store's clock, if it has one; the quickest sets the offset. */
  async #syncClock(): Promise<void> {
    if (this.#store.storeTime === undefined || !this.#options.storeClock) return;
    for (let i = 0; i < CLOCK_SYNC_SAMPLES; i++) {
      const sentAt = this.#clock.monotonic();
      const storeNow = await this.#store.storeTime();
      this.#measureClock(sentAt, this.#clock.monotonic(), storeNow);
    }
  }

  #measureClock(sentAt: number, answeredAt: number, storeNow: number): void {
    const wasRefused = this.#clock.refused;
    this.#clock.sample(sentAt, answeredAt, storeNow);
    const offsetMs = this.#clock.offsetMs;
    const seconds = (offsetMs / 1000).toFixed(3);
    if (this.#clock.refused !== wasRefused) {
      if (this.#clock.refused) this.#logger.error({ offsetMs }, `the store's clock is ${seconds} s off this host's, too far to be skew: scheduling on this host's clock instead (fix the clock of the database host or of this one)`);
      else this.#logger.info({ offsetMs }, `the store's clock is within reach again (${seconds} s off): scheduling on it`);
    }
    const skewed = this.#clockSkewed ? Math.abs(offsetMs) > CLOCK_OFFSET_WARN_MS / 2 : Math.abs(offsetMs) > CLOCK_OFFSET_WARN_MS;
    if (skewed === this.#clockSkewed) return;
    this.#clockSkewed = skewed;
    if (skewed) this.#logger.warn({ offsetMs }, `this host's clock is ${seconds} s off the store's; scheduling on the store's clock (check NTP on this host)`);
    else this.#logger.info({ offsetMs }, `this host's clock is back within ${CLOCK_OFFSET_WARN_MS / 2} ms of the store's`);
    this.#events.emit('clock:offset', { offsetMs, skewed });
  }

  #onClaimError(error: unknown): void {
    this.#reportError(error, 'store');
    // Back off and try the same jobs again: ticks are delayed, not lost.
    this.#claimBackoffMs = storeBackoff(this.#claimBackoffMs, MAX_CLAIM_BACKOFF_MS);
    this.#timers.after(timerEntry(() => this.#dispatcher.resume()), this.#claimBackoffMs);
  }

  async #setPaused(name: string, paused: boolean, note: string | null = null): Promise<void> {
    this.#assertRunning(paused ? 'pause' : 'resume');
    const runtime = this.#runtime(name);
    const now = this.#clock.now();
    await this.#track(this.#store.setPaused(name, paused, now, note));
    runtime.pausedLocallyAt = this.#clock.monotonic();
    if (runtime.paused === paused && runtime.pauseNote === note) return;
    if (paused && !runtime.paused) runtime.pausedAt = now;
    if (!paused) runtime.pausedAt = null;
    runtime.paused = paused;
    runtime.pauseNote = note;
    if (paused) this.#events.emit('task:paused', { task: name, note });
    else {
      this.#events.emit('task:resumed', { task: name });
      this.#backfills.wake(runtime);
    }
  }

  async #shutdown(timeoutMs: number): Promise<StopReport> {
    const startedAt = this.#clock.monotonic();
    if (this.#state === 'idle' || this.#state === 'stopped') {
      this.#state = 'stopped';
      return this.#report(startedAt, [], []);
    }
    this.#state = 'stopping';
    const finished: RunRecord[] = [];
    const interrupted: RunRecord[] = [];
    this.#runs.collector = (run) => (run.status === 'interrupted' ? interrupted : finished).push(run);
    this.#unsubscribe?.();
    this.#unsubscribeDeps?.();
    this.#poller.stop();
    this.#pruner.stop();
    // No alert is claimed any more; deliveries under way may end within the stop, and runs ending meanwhile still raise alerts.
    this.#alertDelivery?.stop();
    // Nothing new starts; what runs keeps its timeouts, its lease renewals and its end's retries.
    for (const runtime of this.#tasks.values()) this.#timers.cancel(runtime);
    this.#backfills.clear();
    this.#jobs.close();
    this.#runs.stopStarting();
    this.#runs.drain(startedAt + timeoutMs);
    await this.#drained(timeoutMs);
    // The deadline: what is still being delivered is left due (uncounted) for another instance.
    this.#alertDelivery?.abort();
    this.#runs.abandonAll();
    // Writing the records of abandoned runs gets a short grace of its own.
    await this.#drained(Math.max(1_000, timeoutMs - (this.#clock.monotonic() - startedAt)));
    await this.#runs.flushLogs(Math.max(1_000, timeoutMs - (this.#clock.monotonic() - startedAt)));
    this.#alertWatch?.stop();
    this.#heartbeat.stop();
    this.#timers.stop();
    this.#timers.clear();
    try {
      // So `caretaker trigger --wait` learns at once that nothing here runs its task any more.
      await this.#store.retireInstance(this.instance, this.#clock.now());
    } catch (error) {
      this.#reportError(error, 'store');
    }
    try {
      await this.#store.close();
    } catch (error) {
      this.#reportError(error, 'store');
    }
    this.#state = 'stopped';
    this.#runs.collector = null;
    const report = this.#report(startedAt, finished, interrupted);
    this.#logger.info({ instance: this.instance, interrupted: report.interrupted.length }, 'scheduler stopped');
    this.#events.emit('scheduler:stopped', report);
    this.#checkIdle();
    return report;
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
    if (this.#onDrained !== null && this.#runs.size === 0 && this.#tracked === 0) this.#onDrained();
  }

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
      this.#runs.size === 0 &&
      this.#tracked === 0 &&
      this.#dispatcher.idle &&
      this.#ticks.idle &&
      this.#jobs.idle &&
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

  /** A custom store written before a feature lacks its methods: said plainly, not as a TypeError. */
  #assertStoreHas(what: string, method: keyof Store): void {
    if (typeof this.#store[method] !== 'function') {
      throw new CaretakerError(ErrorCode.NotSupported, `${what}() needs a store with ${String(method)}(); this ${this.#store.kind} store predates it (update the store)`);
    }
  }

  #assertRunning(what: string): void {
    if (this.#state !== 'running') {
      throw new CaretakerError(ErrorCode.SchedulerState, `${what}() needs a started scheduler; it is ${this.#state} (call start() first)`);
    }
  }

  #info(runtime: TaskRuntime): TaskInfo {
    const next = runtime.state === 'active' && !runtime.paused && runtime.nextTick !== null ? new Date(runtime.dueAt(runtime.nextTick)) : null;
    return {
      name: runtime.name,
      description: runtime.description,
      schedule: runtime.schedule.spec,
      scheduleText: runtime.schedule.describe(),
      paused: runtime.state === 'active' ? runtime.paused : runtime.startPaused,
      pauseNote: runtime.state === 'active' && runtime.paused ? runtime.pauseNote : null,
      pausedAt: runtime.state === 'active' && runtime.paused && runtime.pausedAt !== null ? new Date(runtime.pausedAt) : null,
      nextRunAt: next,
      lastRun: runtime.lastRun,
      running: runtime.running,
      overlap: runtime.policy.overlap,
      priority: runtime.policy.priority,
      timeoutMs: Number.isFinite(runtime.policy.timeoutMs) ? runtime.policy.timeoutMs : null,
      staleAfterMs: runtime.policy.staleAfterMs,
      settings: settingsOf(runtime.policy),
      after: runtime.dependency,
      downstream: this.#deps.downstreamOf(runtime.name),
      hasCondition: runtime.condition !== null,
      overrides:
        runtime.overrides === null
          ? null
          : { fields: runtime.overrides.fields, by: runtime.overrides.by, at: new Date(runtime.overrides.at), applied: runtime.overridesProblem === null, problem: runtime.overridesProblem },
    };
  }
}

/** What `createScheduler` gives a scheduler beside its options. */
export interface SchedulerServices {
  /** Builds the alert channels of a `notify` option (webhooks and commands do I/O, which the engine does not). */
  readonly buildChannels?: (notify: ResolvedNotify) => Map<string, NotifyChannel>;
  /** Reads the process's and host's load for `defer` (the option `loadProbe` goes first). */
  readonly loadProbe?: LoadProbe;
}

/** Without `createScheduler`'s builder, only channels the caller implements (`send`) can deliver. */
function customChannelsOnly(notify: ResolvedNotify): Map<string, NotifyChannel> {
  const out = new Map<string, NotifyChannel>();
  for (const [name, config] of notify.channels) {
    if (config.kind !== 'custom') throw invalidOption('Scheduler', `notify.channels.${name}`, config.kind, 'webhook and command channels need createScheduler() (new Scheduler() takes only channels with a send function)');
    out.set(name, { name, send: (event, signal) => config.send(event, signal) });
  }
  return out;
}

function settingsOf(policy: TaskPolicy): TaskSettings {
  const { retry } = policy;
  return {
    timeoutMs: Number.isFinite(policy.timeoutMs) ? policy.timeoutMs : null,
    retry: { attempts: retry.attempts, backoffMs: retry.backoffMs, maxBackoffMs: retry.maxBackoffMs, factor: retry.factor },
    overlap: policy.overlap,
    maxConcurrent: Number.isFinite(policy.maxConcurrent) ? policy.maxConcurrent : null,
    catchUp: policy.catchUp,
    catchUpWindowMs: Number.isFinite(policy.catchUpWindowMs) ? policy.catchUpWindowMs : null,
    catchUpLimit: policy.catchUpLimit,
    priority: policy.priority,
    jitterMs: policy.jitterMs,
    staleAfterMs: policy.staleAfterMs,
    defer: policy.defer,
  };
}
