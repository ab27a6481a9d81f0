import type { RunRecord, SkipReason } from '../store/records.ts';
import type { TaskRegistration, TaskRegistrationList } from '../store/port.ts';
import { planCatchUp } from './catch-up.ts';
import { AtSchedule } from './schedules/at.ts';
import type { EngineContext } from './context.ts';
import type { JobRouter } from './job-router.ts';
import type { BoundSchedule, ScheduleDefinition } from './schedules/types.ts';
import type { TaskPolicy } from './task-options.ts';
import { type TaskRuntime, tickSlot } from './task-runtime.ts';
import { timerEntry } from './timer-queue.ts';
import { windowGate } from './schedules/windows.ts';

/** Late ticks of one task handled per wake; more wait for the next wake (immediately after). */
const MAX_TICKS_PER_WAKE = 1_000;
/** A task's previous tick must be this much more than twice a burst's lead before its tick for the task to be claimed with the burst. */
const EARLY_CLAIM_GAP_MS = 1_000;
/**
 * Fired this little ahead of its claim window (a small burst's firing cost), a task is claimed at
 * once: re-arming it for its own time would fire it twice per instant for nothing (decision 036).
 */
const EARLY_CLAIM_TOLERANCE_MS = 25;
/** After a failed registration, try again this much later. */
const REGISTER_RETRY_MS = 5_000;
/**
 * A tick due less than this before start-up is treated as live (late), not missed: another
 * replica may be running it right now with its claim not yet committed, and a catch-up plan
 * made from the stale cursor would mislabel it `catch-up` or, with `catchUp: none`, record it
 * skipped so that nobody runs it. See decision 008.
 */
export const LIVE_GRACE_MS = 1_000;

/**
 * Where ticks come from: registers tasks with the store, binds their schedules to the persisted
 * anchor and cursor, decides what missed ticks become, arms each task's next tick and, when it
 * is due, hands its ticks to the job router.
 */
export class TickPlanner {
  readonly #ctx: EngineContext;
  readonly #jobs: JobRouter;
  #toRegister: TaskRuntime[] = [];
  #registerScheduled = false;
  /** The registration on its way, if any (settled either way). */
  #inFlight: Promise<void> | null = null;
  /** Set during a wake that detected a forward wall-clock jump: due ticks were unobserved. */
  jumped = false;

  /** Runs before a batch registers: the tasks' run-time overrides are read and applied. */
  readonly #prepare: (batch: readonly TaskRuntime[]) => Promise<void>;

  constructor(ctx: EngineContext, jobs: JobRouter, prepare: (batch: readonly TaskRuntime[]) => Promise<void>) {
    this.#ctx = ctx;
    this.#jobs = jobs;
    this.#prepare = prepare;
  }

  /** True when no registration is pending. */
  get idle(): boolean {
    return this.#toRegister.length === 0 && !this.#registerScheduled;
  }

  /**
   * Resolves once the registrations queued so far have been answered (or failed): what a change
   * to a re-keyed task waits for, so it is made over the state the store gave it.
   */
  async registered(): Promise<void> {
    for (let turns = 0; turns < 10 && !this.idle; turns++) await new Promise<void>((resolve) => queueMicrotask(resolve));
    while (this.#inFlight !== null) {
      const current = this.#inFlight;
      await current;
      if (this.#inFlight === current) this.#inFlight = null;
    }
  }

  /** Registers a task added (or re-keyed) while running; tasks added in one turn go in one call. */
  queue(runtime: TaskRuntime): void {
    runtime.state = 'registering';
    this.#toRegister.push(runtime);
    if (this.#registerScheduled) return;
    this.#registerScheduled = true;
    queueMicrotask(() => {
      this.#registerScheduled = false;
      const batch = this.#toRegister;
      this.#toRegister = [];
      const registering = this.register(batch);
      this.#inFlight = registering.then(
        () => {},
        () => {},
      );
      registering.catch((error: unknown) => {
        this.#ctx.reportError(error, 'store');
        // Try again later; the tasks stay registered locally meanwhile.
        const retry = timerEntry(() => {
          if (this.#ctx.running()) batch.filter((r) => r.state === 'registering').forEach((r) => this.queue(r));
        });
        this.#ctx.timers.after(retry, REGISTER_RETRY_MS);
      });
    });
  }

  /** Registers tasks with the store and activates them. */
  async register(batch: readonly TaskRuntime[]): Promise<void> {
    if (batch.length === 0) return;
    // A task removed while its registration waited stays removed.
    for (let i = 0; i < batch.length; i++) if ((batch[i] as TaskRuntime).state !== 'removed') (batch[i] as TaskRuntime).state = 'registering';
    // The schedule key registered is the effective one (overrides included): as it was stored.
    await this.#prepare(batch);
    if (!this.#ctx.running()) return;
    // Nothing of a task removed by now goes to the store.
    const live = batch.some((runtime) => runtime.state === 'removed') ? batch.filter((runtime) => runtime.state !== 'removed') : batch;
    if (live.length === 0) return;
    // Ticks from this instant on are observed; earlier ones after the persisted cursor were missed.
    const observedFrom = this.#ctx.clock.now();
    const list = new RuntimeRegistrations(live, observedFrom);
    const store = this.#ctx.store;
    const states = await this.#ctx.track(store.registerTaskList !== undefined ? store.registerTaskList(list, observedFrom) : store.registerTasks(registrationsOf(list), observedFrom));
    if (!this.#ctx.running()) return;
    // Indexed, not forEach: a closure called 100,000 times once runs unoptimised for longer.
    for (let i = 0; i < live.length; i++) {
      const runtime = live[i] as TaskRuntime;
      // Removed meanwhile (a task added again under its name is another runtime, queued on its own).
      if (runtime.state !== 'registering') continue;
      // Its schedule or paused flag changed while the store answered: the store holds what was
      // sent, so the task is registered again as it is now, not activated against stale state.
      if (!list.stillAsSent(i)) {
        this.queue(runtime);
        continue;
      }
      const state = states[i];
      // null: the store had never seen the task and stored it as registered.
      if (state === null) this.#activate(runtime, list.anchor(i), list.paused(i), null, observedFrom, null, observedFrom);
      else if (state !== undefined) {
        runtime.pauseNote = state.paused ? state.pauseNote : null;
        runtime.pausedAt = state.paused ? state.pausedAt : null;
        this.#activate(runtime, state.anchor, state.paused, state.lastTick, state.since, state.lastRun, observedFrom);
      }
    }
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
    // Ticks before a task was first registered never existed, except a one-off instant: an `at`
    // that passed before anyone registered it is a missed tick like any other, so `catchUp`
    // runs it late or records it, instead of it vanishing without a trace.
    const origin = lastTick === null && schedule instanceof AtSchedule ? Math.min(since, schedule.instant) : since;
    const cursor = lastTick ?? origin - 1;
    let liveFrom = observedFrom;
    // A task new to the store has no instant between its cursor and now: nothing to look back on.
    if (cursor + 1 < observedFrom) {
      const graceTick = newestTickIn(schedule, Math.max(cursor + 1, observedFrom - LIVE_GRACE_MS), observedFrom);
      // The grace tick runs live, so under `latest` it is the one run the outage gets.
      const policy = graceTick !== null && runtime.policy.catchUp === 'latest' ? { ...runtime.policy, catchUp: 'none' as const } : runtime.policy;
      liveFrom = graceTick ?? observedFrom;
      this.#catchUp(runtime, schedule, cursor, liveFrom, policy);
    }
    runtime.nextTick = schedule.nextAfter(Math.max(cursor, liveFrom - 1));
    this.arm(runtime);
  }

  /** Fires the task again after `delayMs` of elapsed time (no claim lead), for `tick` only. */
  #claimAtInstant(runtime: TaskRuntime, tick: number, delayMs: number): void {
    runtime.claimAtInstant = tick;
    const entry = (runtime.instantEntry ??= timerEntry(() => {
      // Re-armed, re-keyed or removed meanwhile: that path owns the task's timer now.
      if (runtime.claimAtInstant === runtime.nextTick && runtime.state === 'active' && this.#ctx.running()) this.onTaskDue(runtime);
    }));
    this.#ctx.timers.after(entry, delayMs);
  }

  /** Puts the task's next tick on the timer (or takes it off). */
  arm(runtime: TaskRuntime): void {
    if (runtime.instantEntry !== null && runtime.claimAtInstant !== runtime.nextTick) this.#ctx.timers.cancel(runtime.instantEntry);
    if (runtime.nextTick === null || runtime.state !== 'active' || !this.#ctx.running()) {
      this.#ctx.timers.cancel(runtime);
      return;
    }
    this.#ctx.timers.atWall(runtime, runtime.dueAt(runtime.nextTick));
  }

  /** The task's timer fired: its next tick (and maybe more, after a stall) is due. */
  onTaskDue(runtime: TaskRuntime): void {
    const schedule = runtime.bound;
    if (runtime.state !== 'active' || !this.#ctx.running() || schedule === null || runtime.nextTick === null) return;
    const now = this.#ctx.clock.now();
    if (this.jumped) {
      // The wall clock leapt forward: everything now due fell in time nobody observed.
      this.#catchUp(runtime, schedule, runtime.nextTick - 1, now + 1, runtime.policy);
      runtime.nextTick = schedule.nextAfter(now);
      this.arm(runtime);
      return;
    }
    // Ticks due within the prepare window are claimed now and released at their instant.
    const horizon = now + this.#ctx.timers.prepareMs;
    const dueAt = runtime.dueAt(runtime.nextTick);
    if (dueAt > now && runtime.running > 0 && judgesOverlap(runtime) && runtime.claimAtInstant !== runtime.nextTick) {
      // Its previous run is still going here: a claim made now would judge overlap against a run
      // that may end by the instant (decision 036). Claimed at the instant itself instead.
      this.#claimAtInstant(runtime, runtime.nextTick, dueAt - now);
      return;
    }
    runtime.claimAtInstant = null;
    const early = dueAt - horizon;
    if (!runtime.exact && early > EARLY_CLAIM_TOLERANCE_MS && this.#tooSoonForEarlyClaim(runtime, runtime.nextTick, early)) {
      // Fired ahead with a burst, but its previous run may still be going: a claim now would find
      // it live and record this tick skipped (overlap). It is claimed at its own time instead.
      runtime.exact = true;
      this.#ctx.timers.atWall(runtime, runtime.dueAt(runtime.nextTick));
      return;
    }
    runtime.exact = false;
    const due: number[] = [];
    let tick: number | null = runtime.nextTick;
    // The queue fired the task, so its next tick is due, or belongs to a burst fired ahead of its
    // instant to be claimed in time (decision 025); later ticks only when they are due too.
    while (tick !== null && (due.length === 0 || runtime.dueAt(tick) <= horizon) && due.length < MAX_TICKS_PER_WAKE) {
      due.push(tick);
      tick = schedule.nextAfter(tick);
    }
    runtime.nextTick = tick;
    runtime.previousTick = due[due.length - 1] ?? runtime.previousTick;
    this.arm(runtime);
    for (let i = 0; i < due.length; i++) {
      const t = due[i] as number;
      const init = { slot: tickSlot(t), trigger: 'schedule', scheduledFor: t, dueAt: runtime.dueAt(t) } as const;
      if (runtime.paused) this.#jobs.submit(runtime, { ...init, skip: 'paused' });
      // Ticks that came due together (the loop was blocked) run one after another, each late,
      // instead of being collapsed into one run or skipped as overlapping each other.
      else if (i === 0) this.#jobs.submitLive(runtime, init);
      else this.#jobs.enqueueBacklog(runtime, { ...init, overlap: 'wait' });
    }
    this.#jobs.pump(runtime);
  }

  /**
   * True when a claim `early` ms ahead of `tick` could find the task's previous run still live:
   * one is in progress here, or the previous tick was less than twice the lead (and a second)
   * before this one. A task due every second inside an instant where 10,000 hourly tasks are due
   * must not be claimed with them, a second early.
   */
  #tooSoonForEarlyClaim(runtime: TaskRuntime, tick: number, early: number): boolean {
    if (runtime.running > 0) return true;
    const previous = runtime.previousTick;
    return previous !== null && tick - previous < 2 * early + EARLY_CLAIM_GAP_MS;
  }

  /** Plans and submits what the ticks missed in (cursor, observedFrom) become. */
  #catchUp(runtime: TaskRuntime, schedule: BoundSchedule, cursor: number, observedFrom: number, policy: TaskPolicy): void {
    // A paused task runs nothing it missed: the whole outage is one `paused` record.
    const { run, skipped } = planCatchUp(schedule, cursor, observedFrom, runtime.paused ? { ...policy, catchUp: 'none' } : policy);
    if (run.length === 0 && skipped === null) return;
    const reason: SkipReason = runtime.paused ? 'paused' : 'missed';
    if (skipped !== null) {
      // Claimed on the first missed tick's slot, which every replica back from the outage plans
      // alike (one record, however many come back), and the store's cursor moves past the last.
      const { first, last, count } = skipped;
      this.#jobs.submit(runtime, { slot: tickSlot(first), trigger: 'schedule', scheduledFor: first, dueAt: runtime.dueAt(first), skip: reason, skippedTicks: count, throughTick: last });
    }
    if (run.length === 0) {
      this.#jobs.pump(runtime);
      return;
    }
    const catchUp = () => {
      for (const tick of run) {
        this.#jobs.enqueueBacklog(runtime, { slot: tickSlot(tick), trigger: 'catch-up', scheduledFor: tick, dueAt: runtime.dueAt(tick), overlap: 'wait' });
      }
      this.#jobs.pump(runtime);
    };
    // A missed tick runs late, but not outside the task's windows: at the next window, or recorded skipped.
    const gate = windowGate(runtime.schedule, this.#ctx.clock.now());
    if (gate === null) catchUp();
    else if (gate === 'skip') {
      for (const tick of run) this.#jobs.submit(runtime, { slot: tickSlot(tick), trigger: 'catch-up', scheduledFor: tick, dueAt: runtime.dueAt(tick), skip: 'window' });
    } else {
      this.#ctx.timers.atWall(
        timerEntry(() => {
          if (runtime.state === 'active' && this.#ctx.running() && this.#ctx.tasks.get(runtime.name) === runtime) catchUp();
        }),
        gate.at,
      );
    }
  }
}

/**
 * A batch of tasks as the store registers them, read from the runtimes. What may change while
 * the store answers (the schedule, the paused flag) is taken when the batch is made: one array
 * each for the batch, not an object per task.
 */
class RuntimeRegistrations implements TaskRegistrationList {
  readonly #batch: readonly TaskRuntime[];
  readonly #observedFrom: number;
  readonly #schedules: ScheduleDefinition[];
  readonly #paused: Uint8Array;

  constructor(batch: readonly TaskRuntime[], observedFrom: number) {
    this.#batch = batch;
    this.#observedFrom = observedFrom;
    this.#schedules = new Array<ScheduleDefinition>(batch.length);
    this.#paused = new Uint8Array(batch.length);
    for (let i = 0; i < batch.length; i++) {
      const runtime = batch[i] as TaskRuntime;
      this.#schedules[i] = runtime.schedule;
      this.#paused[i] = runtime.startPaused ? 1 : 0;
    }
  }

  get length(): number {
    return this.#batch.length;
  }

  name(i: number): string {
    return (this.#batch[i] as TaskRuntime).name;
  }

  scheduleKey(i: number): string {
    return (this.#schedules[i] as ScheduleDefinition).key;
  }

  anchor(i: number): number | null {
    return (this.#schedules[i] as ScheduleDefinition).initialAnchor(this.#observedFrom);
  }

  paused(i: number): boolean {
    return this.#paused[i] === 1;
  }

  /** True while the task is still what was registered for it (its schedule key and paused flag). */
  stillAsSent(i: number): boolean {
    const runtime = this.#batch[i] as TaskRuntime;
    return runtime.schedule.key === this.scheduleKey(i) && runtime.startPaused === this.paused(i);
  }
}

/** The list as an array, for a store without `registerTaskList`. */
function registrationsOf(list: TaskRegistrationList): TaskRegistration[] {
  return Array.from({ length: list.length }, (_, i) => ({ name: list.name(i), scheduleKey: list.scheduleKey(i), anchor: list.anchor(i), paused: list.paused(i) }));
}

/**
 * The newest tick in [from, to), or null. Walks forward with nextAfter rather than back with
 * previousBefore: tasks registered together share a cron schedule and ask it the same questions,
 * which its memo then answers without croner (100,000 cron tasks registered 40× faster).
 */
function newestTickIn(schedule: BoundSchedule, from: number, to: number): number | null {
  let tick = schedule.nextAfter(from - 1);
  if (tick === null || tick >= to) return null;
  for (let next = schedule.nextAfter(tick); next !== null && next < to; next = schedule.nextAfter(tick)) tick = next;
  return tick;
}

/** Overlap policies a claim made ahead could misjudge: `skip` and `replace` act on a run found in progress. */
function judgesOverlap(runtime: TaskRuntime): boolean {
  const overlap = runtime.policy.overlap;
  return overlap === 'skip' || overlap === 'replace';
}
