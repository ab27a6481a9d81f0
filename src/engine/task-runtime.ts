import type { OverlapMode, TaskOverrides } from '../store/port.ts';
import type { Condition, Dependency } from './smart-options.ts';
import type { RunRecord, RunTrigger, SkipReason } from '../store/records.ts';
import type { HeapItem } from '../util/min-heap.ts';
import { fnv1a32 } from '../util/hash.ts';
import { jitterOffset } from './schedules/jitter.ts';
import type { BoundSchedule, ScheduleDefinition } from './schedules/types.ts';
import type { TaskDefinition, TaskHandler } from './task.ts';
import { NO_SMART, type ResolvedTask, type TaskPolicy } from './task-options.ts';
import type { ElapsedEntry, TimerEntry } from './timer-queue.ts';

/** Receives a task's timer: the scheduler. */
export interface TickSink {
  onTaskDue(runtime: TaskRuntime): void;
}

/** Where a task is in its life inside one scheduler. */
export type RuntimeState = 'registering' | 'active' | 'removed';

/**
 * State a task only needs once it runs; allocated on first use, so 100,000 idle tasks do not
 * each carry it.
 */
export interface RuntimeActivity {
  /** Ticks to run one after another (late ticks of one wake, catch-up runs). */
  backlog: Job[];
  /** A backlog job is claiming or running; the next waits for it. */
  backlogBusy: boolean;
  /** Scheduled ticks of this task queued here for a concurrency slot, oldest first. */
  waiting: Job[];
  /** The newest nominal tick this instance has seen claimed, skipped or taken. */
  maxTick: number;
  lastRun: RunRecord | null;
  /** {@link TaskRuntime.shareHash}, once asked for (a task asked runs in a burst). */
  shareHash: number;
  /** As {@link TaskRuntime.running}, {@link TaskRuntime.previousTick} and {@link TaskRuntime.exact}. */
  running: number;
  previousTick: number | null;
  exact: boolean;
}

/**
 * What few tasks ever have: a description, smart-scheduling fields, overrides, a pause made at
 * run time, a claim held for its instant. Made on first use, so 100,000 plain tasks do not each
 * carry a dozen empty fields (8 bytes each; a -Infinity or a timestamp is a 16-byte number more).
 */
export class RareState {
  description: string | null = null;
  condition: Condition | null = null;
  dependency: Dependency | null = null;
  smart: ResolvedTask['smart'] = NO_SMART;
  definition: TaskDefinition | null = null;
  overrides: TaskOverrides | null = null;
  overridesVersion = 0;
  overridesProblem: string | null = null;
  pauseNote: string | null = null;
  pausedAt: number | null = null;
  pausedLocallyAt = Number.NEGATIVE_INFINITY;
  claimAtInstant: number | null = null;
  instantEntry: ElapsedEntry | null = null;
  startPaused = false;
  paused = false;
}

/**
 * One registered task inside a scheduler: its definition, bound schedule and local state. It is
 * also the timer entry of its next tick, so 100,000 tasks cost 100,000 objects, not 200,000.
 * Fields most tasks never set live in a {@link RareState} behind accessors: each field here is
 * 8 bytes in every one of 100,000 tasks, kept for as long as they are and copied by each
 * young-generation collection they survive (decision 037).
 */
export class TaskRuntime implements TimerEntry, ResolvedTask {
  heapIndex = -1;
  wallTime = Number.NaN;
  // The resolved task's fields live here rather than in an object of their own: one object per
  // task instead of two keeps 100,000 tasks small. `apply` replaces them on update.
  name: string;
  schedule: ScheduleDefinition;
  handler: TaskHandler;
  policy: TaskPolicy;
  state: RuntimeState = 'registering';
  /** The schedule bound to the task's persisted anchor, once registered. */
  bound: BoundSchedule | null = null;
  /** The first nominal tick not yet handled, or null when the schedule has no more. */
  nextTick: number | null = null;
  #activity: RuntimeActivity | null = null;
  // Private fields only, no private methods or accessors: those would add a brand to every
  // instance, one more field in each of 100,000 tasks.
  #rare: RareState | null = null;
  readonly #sink: TickSink;

  /** A plain task: a name, a schedule, a handler and a policy, nothing else set (most tasks). */
  constructor(name: string, schedule: ScheduleDefinition, handler: TaskHandler, policy: TaskPolicy, sink: TickSink) {
    this.name = name;
    this.schedule = schedule;
    this.handler = handler;
    this.policy = policy;
    this.#sink = sink;
  }

  /** A task as the full validation resolved it. */
  static of(task: ResolvedTask, sink: TickSink): TaskRuntime {
    const runtime = new TaskRuntime(task.name, task.schedule, task.handler, task.policy, sink);
    runtime.takeRare(task);
    return runtime;
  }

  /** Takes over the fields of a resolved task that live in its rare state. */
  takeRare(task: ResolvedTask): void {
    this.startPaused = task.startPaused;
    if (task.description === null && task.condition === null && task.dependency === null && task.smart === NO_SMART && this.#rare === null) return;
    const rare = this.rareState();
    rare.description = task.description;
    rare.condition = task.condition;
    rare.dependency = task.dependency;
    rare.smart = task.smart;
  }

  /** The rare state, made on first use. */
  rareState(): RareState {
    return (this.#rare ??= new RareState());
  }

  /** Paused now (by its definition, the store or a call here); rare, so kept in the rare state. */
  get paused(): boolean {
    return this.#rare?.paused ?? false;
  }

  set paused(value: boolean) {
    if (value || this.#rare !== null) this.rareState().paused = value;
  }

  /** Runs of this task in progress on this instance. */
  get running(): number {
    return this.#activity?.running ?? 0;
  }

  set running(value: number) {
    if (value !== 0 || this.#activity !== null) this.activity.running = value;
  }

  /** The tick this instance handled last, or null: how long ago the previous run could start. */
  get previousTick(): number | null {
    return this.#activity?.previousTick ?? null;
  }

  set previousTick(value: number | null) {
    if (value !== null || this.#activity !== null) this.activity.previousTick = value;
  }

  /** Its timer fires at the tick's own time, not ahead with a burst (see TickPlanner.onTaskDue). */
  get exact(): boolean {
    return this.#activity?.exact ?? false;
  }

  set exact(value: boolean) {
    if (value || this.#activity !== null) this.activity.exact = value;
  }

  /** Starts paused, by its definition (`paused: true`). */
  get startPaused(): boolean {
    return this.#rare?.startPaused ?? false;
  }

  set startPaused(value: boolean) {
    if (value || this.#rare !== null) this.rareState().startPaused = value;
  }

  /** The task's description, or null. */
  get description(): string | null {
    return this.#rare?.description ?? null;
  }

  /** `when`; null for none. */
  get condition(): Condition | null {
    return this.#rare?.condition ?? null;
  }

  /** `after`; null for none. */
  get dependency(): Dependency | null {
    return this.#rare?.dependency ?? null;
  }

  /** The smart-scheduling fields as given. */
  get smart(): ResolvedTask['smart'] {
    return this.#rare?.smart ?? NO_SMART;
  }

  /**
   * The definition as its code or config gives it, before run-time overrides; null when nothing
   * was ever overridden and the resolved fields say it all (most tasks: no second object each).
   */
  get definition(): TaskDefinition | null {
    return this.#rare?.definition ?? null;
  }

  set definition(value: TaskDefinition | null) {
    if (value !== null || this.#rare !== null) this.rareState().definition = value;
  }

  /** Run-time changes over the definition (`scheduler.override`), as the store keeps them. */
  get overrides(): TaskOverrides | null {
    return this.#rare?.overrides ?? null;
  }

  set overrides(value: TaskOverrides | null) {
    if (value !== null || this.#rare !== null) this.rareState().overrides = value;
  }

  /** The store's version of `overrides`: older ones, however late they arrive, are not applied. */
  get overridesVersion(): number {
    return this.#rare?.overridesVersion ?? 0;
  }

  set overridesVersion(value: number) {
    if (value !== 0 || this.#rare !== null) this.rareState().overridesVersion = value;
  }

  /** Why the overrides are not applied (the definition no longer takes them); null when they are. */
  get overridesProblem(): string | null {
    return this.#rare?.overridesProblem ?? null;
  }

  set overridesProblem(value: string | null) {
    if (value !== null || this.#rare !== null) this.rareState().overridesProblem = value;
  }

  /** Why it was paused, as the pause said (null for none, or when not paused). */
  get pauseNote(): string | null {
    return this.#rare?.pauseNote ?? null;
  }

  set pauseNote(value: string | null) {
    if (value !== null || this.#rare !== null) this.rareState().pauseNote = value;
  }

  /** When it was paused (wall-clock ms; null when not paused or paused by its definition). */
  get pausedAt(): number | null {
    return this.#rare?.pausedAt ?? null;
  }

  set pausedAt(value: number | null) {
    if (value !== null || this.#rare !== null) this.rareState().pausedAt = value;
  }

  /**
   * When (monotonic ms) `pause()` or `resume()` on this instance last set `paused`: a poll sent
   * before that reports an older flag, which must not undo it.
   */
  get pausedLocallyAt(): number {
    return this.#rare?.pausedLocallyAt ?? Number.NEGATIVE_INFINITY;
  }

  set pausedLocallyAt(value: number) {
    if (value !== Number.NEGATIVE_INFINITY || this.#rare !== null) this.rareState().pausedLocallyAt = value;
  }

  /**
   * The tick this task waits to claim at its instant, not ahead (its previous run was still going
   * here when the claim would have gone out); null when none.
   */
  get claimAtInstant(): number | null {
    return this.#rare?.claimAtInstant ?? null;
  }

  set claimAtInstant(value: number | null) {
    if (value !== null || this.#rare !== null) this.rareState().claimAtInstant = value;
  }

  /** The elapsed-time entry of that wait, made on first use. */
  get instantEntry(): ElapsedEntry | null {
    return this.#rare?.instantEntry ?? null;
  }

  set instantEntry(value: ElapsedEntry | null) {
    if (value !== null || this.#rare !== null) this.rareState().instantEntry = value;
  }

  /** Takes over a new definition of the same task. */
  apply(task: ResolvedTask): void {
    this.schedule = task.schedule;
    this.handler = task.handler;
    this.policy = task.policy;
    this.takeRare(task);
  }

  /** The task's run-time state, created on first use. */
  get activity(): RuntimeActivity {
    return (this.#activity ??= { backlog: [], backlogBusy: false, waiting: [], maxTick: Number.NEGATIVE_INFINITY, lastRun: null, shareHash: -1, running: 0, previousTick: null, exact: false });
  }

  /** The last run this instance knows of, without allocating activity for idle tasks. */
  get lastRun(): RunRecord | null {
    return this.#activity?.lastRun ?? null;
  }

  set lastRun(run: RunRecord | null) {
    if (run !== null || this.#activity !== null) this.activity.lastRun = run;
  }

  /** True when backlog jobs are waiting. */
  get hasBacklog(): boolean {
    return (this.#activity?.backlog.length ?? 0) > 0;
  }

  /** Picks the task's owner among replicas sharing a burst; the same on every replica. */
  get shareHash(): number {
    const activity = this.activity;
    if (activity.shareHash < 0) activity.shareHash = fnv1a32(this.name);
    return activity.shareHash;
  }

  /** The instant a nominal tick is due: the tick plus its stable jitter offset. */
  dueAt(tick: number): number {
    return tick + jitterOffset(this.name, tick, this.policy.jitterMs);
  }

  onDue(): void {
    this.#sink.onTaskDue(this);
  }
}

/** A tick (or retry, or manual trigger) on its way to a claim. */
export interface Job extends HeapItem {
  readonly runtime: TaskRuntime;
  readonly runId: string;
  readonly slot: string;
  readonly trigger: RunTrigger;
  readonly scheduledFor: number;
  readonly dueAt: number;
  readonly attempt: number;
  /** Non-null: record the tick skipped with this reason instead of running it. */
  readonly skip: SkipReason | null;
  readonly skippedTicks: number;
  /** The newest tick a skip record stands for, when it stands for several; else null. */
  readonly throughTick: number | null;
  /** The run that caused this one (a person's retry of it); else null. */
  readonly causedBy: string | null;
  readonly overlap: OverlapMode;
  /** Ordering among equals: submission order. */
  readonly seq: number;
  /** The job came from the task's backlog; its end lets the next one go. */
  readonly fromBacklog: boolean;
  /**
   * When (monotonic ms) its claim was sent. The store counts the lease from that instant, not
   * from when the reply arrives, so a slow reply leaves less of the lease than it seems.
   */
  claimSentAt: number;
  /** The lease its claim asked for: the lease plus the wait, when claimed ahead of its instant. */
  claimLeaseMs: number;
  /** Left to a peer once and checked after the grace: it is not left to a peer again. */
  checkedShare: boolean;
}

/** The slot of a scheduled (or caught-up, or retried) tick. */
export function tickSlot(tick: number): string {
  return `t:${tick}`;
}

/** The slot of a manual trigger. */
export function manualSlot(triggerId: string): string {
  return `m:${triggerId}`;
}
