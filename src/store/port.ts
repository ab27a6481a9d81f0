import type { JsonValue, RunError } from '../util/json.ts';
import type {
  AuditEntry,
  BackfillRecord,
  NotificationPage,
  NotificationQuery,
  NotificationRecord,
  AuditPage,
  AuditQuery,
  FinalStatus,
  LastSuccess,
  RetentionPolicy,
  RunPage,
  RunProgress,
  RunQuery,
  RunLog,
  RunRecord,
  RunStats,
  RunStatsQuery,
  RunTrigger,
  SkipReason,
} from './records.ts';

/**
 * The Store port: all persistence and coordination. The memory, SQLite and PostgreSQL adapters
 * implement it and pass the same contract suite. Every method that depends on time takes `now`
 * from the engine's clock, never reads one itself, so stores behave the same in virtual time.
 *
 * The coordination rule: a run (or a skipped-tick record) exists only if its claim on
 * (task, slot, attempt) was inserted, and that insert is unique, so among replicas one wins.
 */
export interface Store {
  /** A short name for logs and metrics, e.g. `memory`, `sqlite`, `postgres`. */
  readonly kind: string;

  /**
   * How often polling is worth it for this store, when the scheduler's `pollInterval` is not
   * set: short where other processes change things (databases), long where every change is
   * pushed through `subscribe` (memory).
   */
  readonly suggestedPollIntervalMs?: number;

  /**
   * How long before a tick's instant the scheduler should claim it, so the store's round trip
   * (and, for SQLite, waiting for another process's write lock) happens before the instant
   * instead of making the run late. The run is still released at its instant.
   */
  readonly claimLeadMs?: number;

  /** Prepares the store (creates or migrates its schema). Idempotent; reference-counted with `close`. */
  open(): Promise<void>;
  /** Releases what `open` acquired; the last close frees connections the store owns. */
  close(): Promise<void>;

  /**
   * Registers tasks and returns their persisted state, in the order given. A task seen for the
   * first time is stored exactly as registered (with `since = now`) and its entry is null, which
   * spares a large first registration one object per task; a task whose `scheduleKey` changed
   * starts afresh (new anchor, no handled ticks); otherwise the stored state wins.
   */
  registerTasks(tasks: readonly TaskRegistration[], now: number): Promise<(TaskState | null)[]>;

  /**
   * {@link registerTasks} for a batch read by position: the engine hands over its own task
   * objects instead of building a registration object for each, so registering 100,000 tasks
   * allocates nothing per task on the way in. Optional; without it the engine builds the array.
   * The list is valid during the call only. A wrapper around a store that has it (the memory
   * store) and that changes registrations must wrap both methods: the engine calls only this one.
   */
  registerTaskList?(tasks: TaskRegistrationList, now: number): Promise<(TaskState | null)[]>;

  /** Claims slots, each atomically and independently; outcomes are in request order. */
  claim(requests: readonly ClaimRequest[], now: number): Promise<ClaimOutcome[]>;

  /** Every task the store knows, by name, with its persisted state; registers nothing. */
  listTasks(): Promise<TaskState[]>;

  /**
   * Extends the leases of running runs to `now + leaseMs` (never shortens one: a claim made ahead
   * of its start holds longer); returns the ids whose lease was lost.
   */
  renewLeases(leases: readonly LeaseRef[], leaseMs: number, now: number): Promise<string[]>;

  /** Records how a run ended, if the caller still holds it (else `fenced`). */
  finish(completion: RunCompletion, now: number): Promise<FinishOutcome>;

  /**
   * Records how several runs ended, each exactly as {@link finish} would, in one transaction:
   * a burst's ends cost one statement per batch, not one each. Outcomes are in request order.
   */
  finishMany(completions: readonly RunCompletion[], now: number): Promise<FinishOutcome[]>;

  /**
   * For each slot, true when nothing has claimed it yet (no run or skip record of that attempt).
   * A read: it claims nothing, so a replica can ask which of a burst's ticks its peers left.
   */
  unclaimed(slots: readonly SlotRef[]): Promise<boolean[]>;

  /** Stores a running run's latest progress (best effort; fenced writes are ignored). */
  recordProgress(lease: LeaseRef, progress: RunProgress, now: number): Promise<void>;

  /**
   * Sets a task's paused flag; false when the task is unknown to the store. Pausing keeps `note`
   * (why, for whoever looks; null for none) and when it was paused; pausing a paused task again
   * replaces its note; resuming clears both. Every change reaches the other instances' polls.
   */
  setPaused(task: string, paused: boolean, now: number, note?: string | null): Promise<boolean>;

  /**
   * Sets (or, with null, clears) a task's run-time overrides, in one step: with `expected`, only
   * if they are still those (else `changed`: someone else changed them meanwhile). Every change
   * gets a new version, and reaches the other instances' polls as a pause does.
   */
  setOverrides(task: string, overrides: TaskOverrides | null, now: number, expected?: TaskOverrides | null): Promise<OverridesWrite>;

  /** The tasks (of `tasks`, or all) that have overrides, with them and the version of their last change. */
  listOverrides(tasks?: readonly string[]): Promise<{ readonly task: string; readonly overrides: TaskOverrides; readonly version: number }[]>;

  /** Records a manual trigger; any instance that runs the task may take it. */
  requestTrigger(trigger: TriggerRequest): Promise<void>;

  /** Withdraws a trigger no instance has taken yet; false when it was taken already (or never made). */
  withdrawTrigger(id: string): Promise<boolean>;

  /**
   * Records a backfill with the instants it runs (computed by the caller from the task's
   * schedule). Every instance that runs the task sees it at its poll, and claims its instants one
   * by one (slots `b:<id>:<ms>`), so each runs once across instances.
   */
  requestBackfill(request: BackfillRequest): Promise<void>;

  /**
   * Ends a running backfill. `cancelled`: at once, asking the owners of its running runs to
   * cancel them. `done`: only once none of its runs is running (else `busy`). `not-running` when
   * it had already ended, `not-found` when it never existed.
   */
  endBackfill(id: string, status: 'done' | 'cancelled', now: number): Promise<'ended' | 'busy' | 'not-running' | 'not-found'>;

  /** One backfill with its progress, or null. */
  getBackfill(id: string): Promise<BackfillRecord | null>;

  /** Backfills, newest first, optionally of one task (at most `limit`, 1 to 100; default 20). */
  listBackfills(query: { readonly task?: string; readonly limit?: number }): Promise<BackfillRecord[]>;

  /** Asks the owner of a running run to cancel it. */
  requestCancel(runId: string, now: number): Promise<'requested' | 'not-running' | 'not-found'>;

  /**
   * Everything another instance may have changed since the last poll, in one round trip:
   * pending triggers, cancel requests for this instance's runs, paused flags, runs whose lease
   * expired (marked `interrupted` by this call), retries that are due, and queued ticks whose
   * runner disappeared.
   */
  poll(request: PollRequest): Promise<PollResult>;

  /** Records that an instance has stopped: it no longer runs anything. */
  retireInstance(instance: string, now: number): Promise<void>;

  /**
   * The instances that have polled this store, with the tasks they run and when they were last
   * seen (every poll is a heartbeat), so a client can tell whether anything will run a task.
   * Instances unseen for a day are pruned.
   */
  listInstances(): Promise<InstanceState[]>;

  getRun(id: string): Promise<RunRecord | null>;
  listRuns(query: RunQuery): Promise<RunPage>;
  /**
   * Ends of `task` after `endedAfter` (by `finishedAt`, oldest first, at most `limit`) in one of
   * `statuses`, backfill runs left out: what a task's `after` follows. Optional: a store without
   * it cannot run dependent tasks.
   */
  listCompletions?(query: CompletionQuery): Promise<RunRecord[]>;
  /**
   * One task's history summarised per bucket (outcomes counted per tick, duration percentiles,
   * an output field), for charts: one index-backed pass over the range, not a page of records.
   */
  runStats(query: RunStatsQuery): Promise<RunStats>;
  /**
   * Replaces what is kept of each run's log (one entry per run), in one statement for many runs.
   * A run the store no longer has is skipped. Best effort, like progress: the engine retries at
   * its next flush.
   */
  saveRunLogs(logs: readonly RunLog[]): Promise<void>;

  /** What is kept of a run's log; null when it logged nothing, or the run is unknown. */
  getRunLog(runId: string): Promise<RunLog | null>;

  /**
   * Records events for delivery, one row per event and channel; an event already recorded for a
   * channel (another replica saw it too) is left as it is. Returns how many were new.
   */
  enqueueNotifications(items: readonly NewNotification[], now: number): Promise<number>;

  /**
   * Claims up to `limit` due notifications for this instance to deliver (each claim counts as an
   * attempt and holds for `leaseMs`): among instances, one claims each. A claim that lapses
   * (its instance died mid-delivery) is due again. Notifications for `skipChannels` (busy or
   * rate-limited here) are left for later.
   */
  claimNotifications(instance: string, now: number, leaseMs: number, limit: number, skipChannels?: readonly string[]): Promise<NotificationRecord[]>;

  /**
   * Records how a claimed attempt went, if this instance still holds that attempt (else false):
   * delivered, due again at `retryAt`, or failed for good.
   */
  settleNotification(claim: NotificationClaim, outcome: NotificationOutcome, now: number): Promise<boolean>;

  /** Recorded notifications, newest first. */
  listNotifications(query: NotificationQuery): Promise<NotificationPage>;

  /** Appends a change someone made (the API and the CLI record each accepted mutation). */
  recordAudit(entry: AuditEntry): Promise<void>;

  /** Recorded changes, newest first, optionally of one task. */
  listAudit(query: AuditQuery): Promise<AuditPage>;

  /** Sets `retryAt` on a finished run (after a lease-expiry interrupt, the reaper decides). */
  scheduleRetry(runId: string, retryAt: number): Promise<void>;
  /** Deletes at most `batchSize` runs the policy no longer keeps; returns how many. */
  prune(policy: RetentionPolicy, now: number, batchSize: number): Promise<number>;

  /**
   * The store's own clock (Unix ms), for stores that several hosts share (PostgreSQL). Their
   * wall clocks disagree; the scheduler runs on the store's clock instead, measuring its offset
   * on this round trip at start and on every poll (see {@link PollResult.storeNow}). Stores on
   * one host (SQLite, memory) leave it out: their replicas share the host's clock.
   */
  storeTime?(): Promise<number>;

  /**
   * Optional push channel (PostgreSQL LISTEN/NOTIFY, in-process for memory): called when
   * another instance requested a trigger, cancel or pause, so instances poll at once instead of
   * at their next interval.
   */
  subscribe?(listener: (signal: StoreSignal) => void): () => void;
}

/** A task as the engine registers it. */
export interface TaskRegistration {
  readonly name: string;
  readonly scheduleKey: string;
  /** The anchor of a new (or re-keyed) `every` task; null for other kinds. */
  readonly anchor: number | null;
  /** The paused flag of a task that is new to the store. */
  readonly paused: boolean;
}

/** The tasks of one registration, read by position `0 <= i < length` (see {@link Store.registerTaskList}). */
export interface TaskRegistrationList {
  readonly length: number;
  name(i: number): string;
  scheduleKey(i: number): string;
  /** As {@link TaskRegistration.anchor}. */
  anchor(i: number): number | null;
  /** As {@link TaskRegistration.paused}. */
  paused(i: number): boolean;
}

/** A task's persisted state. */
export interface TaskState {
  readonly name: string;
  readonly scheduleKey: string;
  readonly anchor: number | null;
  /** When the task (with this schedule key) was first registered; ticks before it never existed. */
  readonly since: number;
  /** The newest nominal tick that was claimed or recorded skipped; null when none yet. */
  readonly lastTick: number | null;
  readonly paused: boolean;
  /** Why it was paused (null for no note, or when not paused). */
  readonly pauseNote: string | null;
  /** When it was paused (null when not paused). */
  readonly pausedAt: number | null;
  readonly lastRun: RunRecord | null;
  readonly lastSuccess: LastSuccess | null;
}

/**
 * What the store does when a run of the task is in progress:
 * `skip` record the tick skipped · `queue` remember one tick to run when the current run ends ·
 * `allow` run while fewer than `maxConcurrent` are running · `replace` run and ask the running
 * ones to cancel · `wait` record nothing and answer `busy`, the caller retries later.
 */
export type OverlapMode = 'skip' | 'queue' | 'allow' | 'replace' | 'wait';

/** One claim. `slot` identifies the tick: `t:<unix ms>` for scheduled ticks, `m:<trigger id>` for manual runs. */
export interface ClaimRequest {
  readonly runId: string;
  readonly task: string;
  readonly slot: string;
  readonly attempt: number;
  readonly trigger: RunTrigger;
  readonly scheduledFor: number;
  readonly dueAt: number;
  /**
   * When the handler will start: now, or the due instant when the claim is made a few
   * milliseconds ahead of it. Recorded as the run's start until the run reports the exact one.
   */
  readonly startAt: number;
  readonly instance: string;
  /** Non-null to record the tick as skipped instead of running it. */
  readonly skip: SkipReason | null;
  /** For a skip record, how many ticks it stands for (1 unless summarising downtime). */
  readonly skippedTicks: number;
  /**
   * For a skip record that stands for several ticks, the newest of them: the task's persisted
   * cursor moves past it, so no replica plans those ticks again. Null otherwise.
   */
  readonly throughTick?: number | null;
  readonly overlap: OverlapMode;
  /** For `allow`; 1 for the other modes. */
  readonly maxConcurrent: number;
  /**
   * The run's lease, counted from the claim's `now`. A claim made ahead of its start asks for
   * the lease plus the wait, so the handler still gets a whole lease.
   */
  readonly leaseMs: number;
  /** The run that caused this one (the run a `retry` request retries), recorded as `causedBy`. */
  readonly causedBy?: string | null;
}

export type ClaimOutcome =
  /** The run was inserted as `running`; the caller holds its lease. */
  | {
      readonly kind: 'started';
      readonly run: RunRecord;
      readonly lastSuccess: LastSuccess | null;
      /** Runs this claim replaced (`overlap: 'replace'`): their owners were asked to cancel. */
      readonly replaced: readonly string[];
    }
  /** A skip record was inserted (requested, or because of overlap). */
  | { readonly kind: 'skipped'; readonly run: RunRecord }
  /** The tick will run when the current run ends (`overlap: 'queue'`). */
  | { readonly kind: 'queued' }
  /** The slot was already claimed or recorded, by this or another instance. */
  | { readonly kind: 'taken' }
  /** `overlap: 'wait'` and a run is in progress: nothing was recorded. */
  | { readonly kind: 'busy' };

/** One attempt of one slot of a task: what a claim is unique on. */
export interface SlotRef {
  readonly task: string;
  readonly slot: string;
  readonly attempt: number;
}

/** Identifies a held run: only the holder of the current fencing token may write it. */
export interface LeaseRef {
  readonly runId: string;
  readonly fencingToken: number;
}

/** What {@link Store.listCompletions} reads. */
export interface CompletionQuery {
  readonly task: string;
  readonly statuses: readonly FinalStatus[];
  /** Unix ms, exclusive. */
  readonly endedAfter: number;
  readonly limit: number;
  /** `newest`: the newest ends first. @defaultValue 'oldest' */
  readonly order?: 'oldest' | 'newest';
}

export interface RunCompletion extends LeaseRef {
  /** `skipped` only with a {@link skipReason}: a claimed run its condition or its `defer` declined. */
  readonly status: FinalStatus;
  /** Why a claimed run was skipped (`condition`, `deferred`); absent or null otherwise. */
  readonly skipReason?: SkipReason | null;
  /** How long `defer` held the run before it started or was skipped; absent or null when not held. */
  readonly deferredMs?: number | null;
  /** When the handler actually started; null if it never did (stopped before its due instant). */
  readonly startedAt: number | null;
  readonly finishedAt: number;
  readonly output: JsonValue | null;
  readonly error: RunError | null;
  readonly retryAt: number | null;
  readonly progress: RunProgress | null;
  /** Take over a queued tick of the task (false while stopping: it stays for the next runner). */
  readonly takeQueued: boolean;
}

/** A tick remembered by `overlap: 'queue'`, handed to whoever ends the current run. */
export interface QueuedTick {
  readonly task: string;
  readonly runId: string;
  readonly slot: string;
  readonly trigger: RunTrigger;
  readonly scheduledFor: number;
  readonly dueAt: number;
}

export type FinishOutcome =
  | { readonly kind: 'recorded'; readonly run: RunRecord; readonly queued: QueuedTick | null }
  /** The lease was lost (expired and taken over, or the fencing token is stale): nothing written. */
  | { readonly kind: 'fenced' };

/** A request to run a finished run's tick again (`retry RUN`): its run is linked to the original. */
export interface RetryOf {
  readonly runId: string;
  readonly scheduledFor: number;
  /** The attempt of the run being retried; the new run is this plus one. */
  readonly attempt: number;
}

export interface TriggerRequest {
  /** Becomes the run's id. */
  readonly id: string;
  readonly task: string;
  readonly requestedAt: number;
  /** Set for a retry of a finished run: the new run has trigger `retry` and that run's tick. */
  readonly retryOf?: RetryOf;
}

/** An event for one channel, as {@link Store.enqueueNotifications} takes it. */
export interface NewNotification {
  /** A UUIDv7 (time-ordered), used only if the event is new for the channel. */
  readonly id: string;
  readonly eventId: string;
  readonly channel: string;
  readonly kind: string;
  readonly task: string;
  readonly event: JsonValue;
}

/** Which attempt of which notification an instance holds. */
export interface NotificationClaim {
  readonly eventId: string;
  readonly channel: string;
  readonly instance: string;
  /** The attempt the claim made (its `attempts` after the claim). */
  readonly attempt: number;
}

export type NotificationOutcome =
  | { readonly status: 'delivered' }
  /** Due again at `retryAt`. `refund`: the attempt does not count (the receiver asked to wait, or the instance stopped). */
  | { readonly status: 'pending'; readonly retryAt: number; readonly error: string | null; readonly refund?: boolean }
  | { readonly status: 'failed'; readonly error: string };

export interface BackfillRequest {
  readonly id: string;
  readonly task: string;
  readonly from: number;
  readonly to: number;
  /** The schedule's instants in the range, ascending (at most the scheduler's `backfillLimit`). */
  readonly instants: readonly number[];
  readonly requestedBy: string;
  readonly requestedAt: number;
}

/** A running backfill as a poll reports it: what an instance needs to take part. */
export interface ActiveBackfill {
  readonly id: string;
  readonly task: string;
  readonly instants: readonly number[];
}

export interface PendingTrigger {
  readonly id: string;
  readonly task: string;
  readonly requestedAt: number;
  readonly retryOf: RetryOf | null;
}

export interface DueRetry {
  readonly task: string;
  readonly slot: string;
  /** The attempt to run next. */
  readonly attempt: number;
  readonly scheduledFor: number;
  readonly retryAt: number;
  /** The trigger of the first attempt, kept for history. */
  readonly previousRunId: string;
}

/** What an instance tells the store about itself with each poll: that it is alive, and what it runs. */
export interface InstanceBeat {
  /** How often it polls; it counts as gone after {@link INSTANCE_MISSED_POLLS} intervals unseen. */
  readonly pollIntervalMs: number;
  /** The names of the tasks it runs, when they changed since its last poll (the first one included); else null. */
  readonly tasks: readonly string[] | null;
  /**
   * Identifies this process's current task list. When the stored list carries another token,
   * another process of the same instance name wrote it: the poll says so
   * ({@link PollResult.tasksCurrent}) and the instance sends its list again.
   */
  readonly tasksToken: string;
  /**
   * Names the set of tasks it runs (an order-independent hash of the names), so instances that run the same
   * tasks find each other as peers ({@link PollResult.peers}); stored along with `tasks`.
   */
  readonly tasksDigest: string;
}

/** An instance as the store last heard of it. */
export interface InstanceState {
  readonly instance: string;
  readonly startedAt: Date;
  readonly seenAt: Date;
  readonly pollIntervalMs: number;
  readonly tasks: readonly string[];
  /** When it stopped cleanly; null while it runs (or if it died). */
  readonly stoppedAt: Date | null;
}

/** Instances unseen for this long are pruned with the run history: a day of "who ran here" is enough. */
export const INSTANCE_RETENTION_MS = 86_400_000;

/** How many poll intervals an instance may go unseen before it counts as gone. */
export const INSTANCE_MISSED_POLLS = 3;

/** True when the instance is running: not stopped, and seen within a few of its poll intervals. */
export function instanceAlive(state: InstanceState, now: number): boolean {
  return state.stoppedAt === null && state.seenAt.getTime() + INSTANCE_MISSED_POLLS * state.pollIntervalMs >= now;
}

export interface PollRequest {
  readonly instance: string;
  readonly now: number;
  /** The caller's heartbeat; absent for callers that only read (tools, tests). */
  readonly beat?: InstanceBeat;
  /** The `pauseVersion` of the previous poll result; 0 the first time. */
  readonly pauseVersion: number;
  /** Retries due for at least this long are offered to any instance (their scheduler may be gone). */
  readonly retryGraceMs: number;
  /**
   * Runs the caller still executes or is still recording the end of. Their leases may have lapsed
   * during a store outage, but their owner is plainly alive: they are not reaped by this call
   * (another instance's poll still reaps them, since it cannot know).
   */
  readonly held?: readonly string[];
}

/** A task's pause state as a poll reports it. */
export interface PauseChange {
  readonly task: string;
  readonly paused: boolean;
  readonly note: string | null;
  readonly pausedAt: number | null;
  /** The task's run-time overrides now (null for none); absent from stores that predate them. */
  readonly overrides?: TaskOverrides | null;
  /** The version of this change: an instance applies overrides only newer than those it holds. */
  readonly version?: number;
}

/** What {@link Store.setOverrides} did. */
export type OverridesWrite =
  | { readonly status: 'set'; readonly version: number }
  /** `expected` no longer held: nothing was written. */
  | { readonly status: 'changed' }
  /** The store has no such task. */
  | { readonly status: 'unknown' };

/**
 * Run-time changes to a task's definition, made by a person (`scheduler.override`, the API, the
 * CLI): they apply over the code or config definition, on every instance, across restarts.
 */
export interface TaskOverrides {
  /** The changed options as given (JSON): any of `schedule`, `timeout`, `retry`, `overlap`, `catchUp`, `priority`, `jitter`. */
  readonly fields: { readonly [option: string]: JsonValue };
  /** Who made the last change. */
  readonly by: string;
  /** When (Unix ms). */
  readonly at: number;
}

export interface PollResult {
  readonly triggers: readonly PendingTrigger[];
  /** Running runs of this instance whose cancellation was requested. */
  readonly cancels: readonly string[];
  /** Tasks whose paused flag (or pause note) changed since `pauseVersion`. */
  readonly paused: readonly PauseChange[];
  readonly pauseVersion: number;
  /** Runs this call marked `interrupted` because their lease expired. */
  readonly interrupted: readonly RunRecord[];
  readonly retries: readonly DueRetry[];
  /** Queued ticks of tasks with nothing running (their runner went away). */
  readonly queued: readonly QueuedTick[];
  /** Backfills still running, with the instants they run (absent from stores that predate them). */
  readonly backfills?: readonly ActiveBackfill[];
  /** The store's clock while it answered, from stores that have {@link Store.storeTime}. */
  readonly storeNow?: number;
  /** With a beat: false when the stored task list of this instance is not the one it last sent. */
  readonly tasksCurrent?: boolean;
  /**
   * With a beat: the live instances (this one included, sorted by name) whose tasks have the
   * same digest as this one's; a burst of due ticks is shared among them.
   */
  readonly peers?: readonly string[];
}

export type StoreSignal = 'trigger' | 'cancel' | 'pause';
