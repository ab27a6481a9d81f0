import { isDeepStrictEqual } from 'node:util';
import { captureError } from '../../util/json.ts';
import { LeaseExpiredError } from '../../util/errors.ts';
import {
  type ActiveBackfill,
  type BackfillRequest,
  type NewNotification,
  type NotificationClaim,
  type NotificationOutcome,
  type ClaimOutcome,
  type ClaimRequest,
  type DueRetry,
  type FinishOutcome,
  type InstanceBeat,
  type InstanceState,
  type LeaseRef,
  type PauseChange,
  type PendingTrigger,
  type PollRequest,
  type PollResult,
  type QueuedTick,
  type RunCompletion,
  type SlotRef,
  type Store,
  type StoreSignal,
  type OverridesWrite,
  type TaskOverrides,
  type TaskRegistration,
  type TaskRegistrationList,
  type TaskState,
  type TriggerRequest,
  INSTANCE_RETENTION_MS,
  instanceAlive,
  type CompletionQuery,
} from '../port.ts';
import { normaliseAuditQuery, normaliseNotificationQuery, normaliseRunQuery } from '../query.ts';
import { backfillIdOf, backfillListLimit, backfillRecord, type BackfillRow, backfillSlotPrefix, backfillSlots } from '../backfills.ts';
import type { AuditEntry, AuditPage, AuditQuery, BackfillRecord, FinalStatus, LogLine, NotificationPage, NotificationQuery, NotificationRecord, RetentionPolicy, RunLog, RunPage, RunProgress, RunQuery, RunRecord, RunStats, RunStatsQuery } from '../records.ts';
import { normaliseStatsQuery, statsOfRuns } from '../run-stats.ts';
import { activityOf, FreshTasks, type TaskActivity, type RunRow, slotKey, type TaskEntry, type TaskRow, toRecord } from './rows.ts';
import { cursorTick } from '../query.ts';

/**
 * Keeps everything in this process: the same semantics as the durable stores, nothing
 * persisted. One instance can be shared by several schedulers in one process, which is how
 * tests simulate replicas in virtual time; the data outlives `close`, so a new scheduler on
 * the same store object behaves like a restart.
 *
 * @example
 * const scheduler = createScheduler({ store: memoryStore() });
 */
export function memoryStore(): Store {
  return new MemoryStore();
}

interface PauseLogEntry {
  readonly version: number;
  readonly task: TaskRow;
}

class MemoryStore implements Store {
  readonly kind = 'memory';
  /**
   * Every change comes from this process and is pushed through `subscribe`; polling only finds
   * leases of schedulers that died without stopping, which in one process is rare.
   */
  readonly suggestedPollIntervalMs = 60_000;
  /** A row per task once it was claimed, paused, overridden or re-keyed; until then, its batch's {@link FreshTasks}. */
  readonly #tasks = new Map<string, TaskEntry>();
  /** Every run, in id (creation) order. */
  readonly #runs = new Map<string, RunRow>();
  /** Each run's kept log, by run id; deleted with its run. */
  readonly #logs = new Map<string, RunLog>();
  /** Claimed slots; the unique index of the durable stores. */
  readonly #slots = new Map<string, RunRow>();
  readonly #triggers = new Map<string, PendingTrigger>();
  readonly #instances = new Map<string, InstanceState>();
  /** Which process's task list each instance row holds (see `InstanceBeat.tasksToken`). */
  readonly #tasksTokens = new Map<string, string>();
  readonly #digests = new Map<string, string>();
  readonly #listeners = new Set<(signal: StoreSignal) => void>();
  /** Finished runs with a retryAt whose next attempt has not been claimed yet. */
  readonly #pendingRetries = new Set<RunRow>();
  /** Tasks with running runs or a queued tick: all that `poll` has to look at, besides the logs. */
  readonly #activeTasks = new Set<TaskRow>();
  /** Paused-flag changes in version order. */
  readonly #pauseLog: PauseLogEntry[] = [];
  #pauseVersion = 0;
  readonly #audit: AuditEntry[] = [];
  readonly #backfills = new Map<string, BackfillRow>();
  /** Notifications by `eventId|channel`: the unique key of the durable stores. */
  readonly #notifications = new Map<string, { record: NotificationRecord; claimExpiresAt: number | null }>();

  async open(): Promise<void> {}

  async close(): Promise<void> {}

  async registerTasks(tasks: readonly TaskRegistration[], now: number): Promise<(TaskState | null)[]> {
    return this.registerTaskList(registrationList(tasks), now);
  }

  async registerTaskList(tasks: TaskRegistrationList, now: number): Promise<(TaskState | null)[]> {
    const out: (TaskState | null)[] = new Array<TaskState | null>(tasks.length).fill(null);
    // Tasks new to the store share one entry per run of equal registrations: 100,000 registered
    // together cost a map entry each, not a row each.
    let fresh: FreshTasks | null = null;
    for (let i = 0; i < tasks.length; i++) {
      const name = tasks.name(i);
      const entry = this.#tasks.get(name);
      if (entry === undefined) {
        const scheduleKey = tasks.scheduleKey(i);
        const anchor = tasks.anchor(i);
        const paused = tasks.paused(i);
        if (fresh === null || !fresh.matches(scheduleKey, anchor, paused)) fresh = new FreshTasks(scheduleKey, anchor, now, paused);
        this.#tasks.set(name, fresh);
        continue;
      }
      const scheduleKey = tasks.scheduleKey(i);
      if (entry.scheduleKey === scheduleKey) {
        out[i] = this.#taskState(name, entry);
        continue;
      }
      const row = this.#own(name, entry);
      row.scheduleKey = scheduleKey;
      row.anchor = tasks.anchor(i);
      row.since = now;
      row.lastTick = null;
      out[i] = this.#taskState(name, row);
    }
    return out;
  }

  async listTasks(): Promise<TaskState[]> {
    const out: TaskState[] = [];
    this.#tasks.forEach((entry, name) => out.push(this.#taskState(name, entry)));
    return out.sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async claim(requests: readonly ClaimRequest[], now: number): Promise<ClaimOutcome[]> {
    return requests.map((request) => this.#claimOne(request, now));
  }

  #claimOne(req: ClaimRequest, now: number): ClaimOutcome {
    const task = this.#row(req.task) ?? this.#newTask(req.task, '', null, now);
    const key = slotKey(req.task, req.slot, req.attempt);
    if (this.#slots.has(key)) return { kind: 'taken' };
    // A backfill that ended (a cancel included) starts nothing more, retries of it neither.
    const backfill = backfillIdOf(req.slot);
    if (backfill !== null && this.#backfills.get(backfill)?.status !== 'running') return { kind: 'taken' };
    if (req.skip !== null) return { kind: 'skipped', run: toRecord(this.#insertSkipped(task, req, req.skip)) };

    const activity = activityOf(task);
    const live = [...activity.running].filter((run) => (run.leaseExpiresAt ?? 0) > now);
    const max = req.overlap === 'allow' || req.overlap === 'wait' ? req.maxConcurrent : 1;
    let replaced: string[] = [];
    if (live.length >= max) {
      switch (req.overlap) {
        case 'skip':
        case 'allow':
          return { kind: 'skipped', run: toRecord(this.#insertSkipped(task, req, 'overlap')) };
        case 'queue':
          if (activity.queued !== null) {
            return activity.queued.slot === req.slot ? { kind: 'taken' } : { kind: 'skipped', run: toRecord(this.#insertSkipped(task, req, 'overlap')) };
          }
          this.#activeTasks.add(task);
          activity.queued = {
            task: req.task,
            runId: req.runId,
            slot: req.slot,
            trigger: req.trigger,
            scheduledFor: req.scheduledFor,
            dueAt: req.dueAt,
          };
          this.#consumeTrigger(req);
          return { kind: 'queued' };
        case 'wait':
          return { kind: 'busy' };
        case 'replace':
          for (const run of live) run.cancelRequested = true;
          replaced = live.map((run) => run.id);
          if (replaced.length > 0) this.#signal('cancel');
          break;
      }
    }

    activity.fencing++;
    const row: RunRow = {
      id: req.runId,
      task: req.task,
      slot: req.slot,
      trigger: req.trigger,
      scheduledFor: req.scheduledFor,
      dueAt: req.dueAt,
      startedAt: Math.max(now, req.startAt),
      finishedAt: null,
      status: 'running',
      attempt: req.attempt,
      output: null,
      error: null,
      instance: req.instance,
      skipReason: null,
      skippedTicks: 0,
      fencingToken: activity.fencing,
      progress: null,
      retryAt: null,
      leaseExpiresAt: now + req.leaseMs,
      cancelRequested: false,
      causedBy: req.causedBy ?? null,
      deferredMs: null,
    };
    this.#insert(task, key, row, req);
    activity.running.add(row);
    this.#activeTasks.add(task);
    return { kind: 'started', run: toRecord(row), lastSuccess: activity.lastSuccess, replaced };
  }

  #insertSkipped(task: TaskRow, req: ClaimRequest, reason: RunRow['skipReason']): RunRow {
    const row: RunRow = {
      id: req.runId,
      task: req.task,
      slot: req.slot,
      trigger: req.trigger,
      scheduledFor: req.scheduledFor,
      dueAt: req.dueAt,
      startedAt: null,
      finishedAt: null,
      status: 'skipped',
      attempt: req.attempt,
      output: null,
      error: null,
      instance: req.instance,
      skipReason: reason,
      skippedTicks: Math.max(1, req.skippedTicks),
      fencingToken: null,
      progress: null,
      retryAt: null,
      causedBy: req.causedBy ?? null,
      deferredMs: null,
      leaseExpiresAt: null,
      cancelRequested: false,
    };
    this.#insert(task, slotKey(req.task, req.slot, req.attempt), row, req);
    return row;
  }

  #insert(task: TaskRow, key: string, row: RunRow, req: ClaimRequest): void {
    if (req.attempt > 1) {
      const previous = this.#slots.get(slotKey(req.task, req.slot, req.attempt - 1));
      if (previous !== undefined) this.#pendingRetries.delete(previous);
    }
    this.#slots.set(key, row);
    this.#runs.set(row.id, row);
    activityOf(task).lastRun = row;
    const tick = cursorTick(req);
    if (tick !== null && (task.lastTick === null || tick > task.lastTick)) task.lastTick = tick;
    this.#consumeTrigger(req);
  }

  #consumeTrigger(req: ClaimRequest): void {
    if (req.slot.startsWith('m:')) this.#triggers.delete(req.slot.slice(2));
  }

  async renewLeases(leases: readonly LeaseRef[], leaseMs: number, now: number): Promise<string[]> {
    const lost: string[] = [];
    for (const lease of leases) {
      const run = this.#runs.get(lease.runId);
      // An expired lease is lost even before a reaper notices: a new run may already hold the task.
      if (run === undefined || run.status !== 'running' || run.fencingToken !== lease.fencingToken || (run.leaseExpiresAt ?? 0) <= now) {
        lost.push(lease.runId);
        continue;
      }
      run.leaseExpiresAt = Math.max(run.leaseExpiresAt ?? 0, now + leaseMs);
    }
    return lost;
  }

  async finish(completion: RunCompletion, now: number): Promise<FinishOutcome> {
    const run = this.#runs.get(completion.runId);
    if (run === undefined || run.status !== 'running' || run.fencingToken !== completion.fencingToken) {
      return { kind: 'fenced' };
    }
    if ((run.leaseExpiresAt ?? 0) <= now && this.#hasNewerClaim(run)) return { kind: 'fenced' };
    run.status = completion.status;
    run.startedAt = completion.startedAt;
    run.finishedAt = completion.finishedAt;
    run.output = completion.output;
    run.error = completion.error;
    run.retryAt = completion.retryAt;
    if (run.retryAt !== null) this.#pendingRetries.add(run);
    run.progress = completion.progress ?? run.progress;
    run.leaseExpiresAt = null;
    run.cancelRequested = false;
    run.skipReason = completion.skipReason ?? null;
    run.deferredMs = completion.deferredMs ?? null;
    const task = this.#row(run.task);
    let queued: QueuedTick | null = null;
    if (task !== undefined) {
      const activity = activityOf(task);
      activity.running.delete(run);
      activity.lastRun = run;
      if (run.status === 'succeeded') {
        activity.lastSuccess = {
          runId: run.id,
          scheduledFor: new Date(run.scheduledFor),
          finishedAt: new Date(completion.finishedAt),
          output: run.output,
        };
      }
      if (completion.takeQueued) queued = this.#takeQueued(task, now);
    }
    return { kind: 'recorded', run: toRecord(run), queued };
  }

  async finishMany(completions: readonly RunCompletion[], now: number): Promise<FinishOutcome[]> {
    const out: FinishOutcome[] = [];
    for (const completion of completions) out.push(await this.finish(completion, now));
    return out;
  }

  async unclaimed(slots: readonly SlotRef[]): Promise<boolean[]> {
    return slots.map((s) => !this.#slots.has(slotKey(s.task, s.slot, s.attempt)));
  }

  /** A run whose lease lapsed may still finish, unless another run of its task started since. */
  #hasNewerClaim(run: RunRow): boolean {
    const task = this.#tasks.get(run.task);
    return task !== undefined && activityIn(task)?.fencing !== run.fencingToken;
  }

  #takeQueued(task: TaskRow, now: number): QueuedTick | null {
    const activity = activityOf(task);
    if (activity.queued === null) {
      if (activity.running.size === 0) this.#activeTasks.delete(task);
      return null;
    }
    for (const run of activity.running) if ((run.leaseExpiresAt ?? 0) > now) return null;
    const queued = activity.queued;
    activity.queued = null;
    if (activity.running.size === 0) this.#activeTasks.delete(task);
    return queued;
  }

  async recordProgress(lease: LeaseRef, progress: RunProgress): Promise<void> {
    const run = this.#runs.get(lease.runId);
    if (run !== undefined && run.status === 'running' && run.fencingToken === lease.fencingToken) run.progress = progress;
  }

  async setPaused(task: string, paused: boolean, now: number, note: string | null = null): Promise<boolean> {
    const row = this.#row(task);
    if (row === undefined) return false;
    const kept = paused ? note : null;
    if (row.paused !== paused || (row.activity?.pauseNote ?? null) !== kept) {
      const activity = activityOf(row);
      if (row.paused !== paused) activity.pausedAt = paused ? now : null;
      row.paused = paused;
      activity.pauseNote = kept;
      activity.pauseVersion = ++this.#pauseVersion;
      this.#pauseLog.push({ version: this.#pauseVersion, task: row });
      this.#signal('pause');
    }
    return true;
  }

  async setOverrides(task: string, overrides: TaskOverrides | null, _now: number, expected?: TaskOverrides | null): Promise<OverridesWrite> {
    const row = this.#row(task);
    if (row === undefined) return { status: 'unknown' };
    const activity = activityOf(row);
    if (expected !== undefined && !isDeepStrictEqual(activity.overrides, copyOverrides(expected))) return { status: 'changed' };
    activity.overrides = copyOverrides(overrides);
    activity.pauseVersion = ++this.#pauseVersion;
    this.#pauseLog.push({ version: this.#pauseVersion, task: row });
    this.#signal('pause');
    return { status: 'set', version: activity.pauseVersion };
  }

  async listOverrides(tasks?: readonly string[]): Promise<{ task: string; overrides: TaskOverrides; version: number }[]> {
    const out: { task: string; overrides: TaskOverrides; version: number }[] = [];
    const rows: TaskRow[] = [];
    // Only a task with activity can hold overrides: most have none.
    if (tasks === undefined) this.#tasks.forEach((entry) => activityIn(entry) !== null && rows.push(entry as TaskRow));
    else {
      for (let i = 0; i < tasks.length; i++) {
        const entry = this.#tasks.get(tasks[i] as string);
        if (entry !== undefined && activityIn(entry) !== null) rows.push(entry as TaskRow);
      }
    }
    for (const row of rows) {
      const overrides = copyOverrides(row.activity?.overrides ?? null);
      if (overrides !== null) out.push({ task: row.name, overrides, version: row.activity?.pauseVersion ?? 0 });
    }
    return out;
  }

  async withdrawTrigger(id: string): Promise<boolean> {
    return this.#triggers.delete(id);
  }

  async requestTrigger(trigger: TriggerRequest): Promise<void> {
    this.#triggers.set(trigger.id, { id: trigger.id, task: trigger.task, requestedAt: trigger.requestedAt, retryOf: trigger.retryOf ?? null });
    this.#signal('trigger');
  }

  async enqueueNotifications(items: readonly NewNotification[], now: number): Promise<number> {
    let added = 0;
    for (const item of items) {
      const key = `${item.eventId}|${item.channel}`;
      if (this.#notifications.has(key)) continue;
      added++;
      this.#notifications.set(key, {
        record: {
          id: item.id,
          eventId: item.eventId,
          channel: item.channel,
          kind: item.kind,
          task: item.task,
          event: structuredClone(item.event),
          status: 'pending',
          attempts: 0,
          nextAttemptAt: new Date(now),
          claimedBy: null,
          lastError: null,
          createdAt: new Date(now),
          deliveredAt: null,
        },
        claimExpiresAt: null,
      });
    }
    return added;
  }

  async claimNotifications(instance: string, now: number, leaseMs: number, limit: number, skipChannels: readonly string[] = []): Promise<NotificationRecord[]> {
    const due = [...this.#notifications.values()]
      .filter((n) => !skipChannels.includes(n.record.channel) && n.record.status === 'pending' && (n.record.nextAttemptAt?.getTime() ?? 0) <= now && (n.claimExpiresAt === null || n.claimExpiresAt <= now))
      .sort((a, b) => (a.record.nextAttemptAt?.getTime() ?? 0) - (b.record.nextAttemptAt?.getTime() ?? 0) || (a.record.id < b.record.id ? -1 : 1))
      .slice(0, limit);
    for (const n of due) {
      n.record = { ...n.record, attempts: n.record.attempts + 1, claimedBy: instance };
      n.claimExpiresAt = now + leaseMs;
    }
    return due.map((n) => ({ ...n.record, event: structuredClone(n.record.event) }));
  }

  async settleNotification(claim: NotificationClaim, outcome: NotificationOutcome, now: number): Promise<boolean> {
    const n = this.#notifications.get(`${claim.eventId}|${claim.channel}`);
    if (n === undefined || n.record.status !== 'pending' || n.record.claimedBy !== claim.instance || n.record.attempts !== claim.attempt) return false;
    n.claimExpiresAt = null;
    n.record =
      outcome.status === 'delivered'
        ? { ...n.record, status: 'delivered', nextAttemptAt: null, deliveredAt: new Date(now), lastError: null }
        : outcome.status === 'pending'
          ? { ...n.record, status: 'pending', nextAttemptAt: new Date(outcome.retryAt), claimedBy: null, lastError: outcome.error, attempts: n.record.attempts - (outcome.refund === true ? 1 : 0) }
          : { ...n.record, status: 'failed', nextAttemptAt: null, lastError: outcome.error };
    return true;
  }

  async listNotifications(query: NotificationQuery): Promise<NotificationPage> {
    const q = normaliseNotificationQuery(query);
    const matching = [...this.#notifications.values()]
      .map((n) => n.record)
      .filter((r) => (q.before === null || r.id < q.before) && (q.task === null || r.task === q.task) && (q.status === null || r.status === q.status))
      .sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    const notifications = matching.slice(0, q.limit).map((r) => ({ ...r, event: structuredClone(r.event) }));
    return { notifications, nextCursor: matching.length > q.limit ? (notifications.at(-1)?.id ?? null) : null };
  }

  async requestBackfill(request: BackfillRequest): Promise<void> {
    if (this.#backfills.has(request.id)) return;
    this.#backfills.set(request.id, {
      id: request.id,
      task: request.task,
      from: request.from,
      to: request.to,
      instants: [...request.instants],
      status: 'running',
      requestedBy: request.requestedBy,
      requestedAt: request.requestedAt,
      endedAt: null,
    });
    this.#signal('trigger');
  }

  async endBackfill(id: string, status: 'done' | 'cancelled', now: number): Promise<'ended' | 'busy' | 'not-running' | 'not-found'> {
    const row = this.#backfills.get(id);
    if (row === undefined) return 'not-found';
    if (row.status !== 'running') return 'not-running';
    const attempts = this.#backfillAttempts(row);
    const running = attempts.filter((run) => run.status === 'running');
    // Done only once nothing of it runs or waits for a retry.
    if (status === 'done' && (running.length > 0 || attempts.some((run) => this.#pendingRetries.has(run)))) return 'busy';
    this.#backfills.set(id, { ...row, status, endedAt: now });
    for (const run of running) run.cancelRequested = true;
    // Cancelled: its retries do not come.
    for (const run of attempts) {
      if (!this.#pendingRetries.delete(run)) continue;
      run.retryAt = null;
    }
    this.#signal(running.length > 0 ? 'cancel' : 'trigger');
    return 'ended';
  }

  async getBackfill(id: string): Promise<BackfillRecord | null> {
    const row = this.#backfills.get(id);
    return row === undefined ? null : backfillRecord(row, this.#backfillAttempts(row));
  }

  async listBackfills(query: { readonly task?: string; readonly limit?: number }): Promise<BackfillRecord[]> {
    const rows = [...this.#backfills.values()].filter((row) => query.task === undefined || row.task === query.task);
    return rows
      .sort((a, b) => (a.id < b.id ? 1 : -1))
      .slice(0, backfillListLimit(query.limit))
      .map((row) => backfillRecord(row, this.#backfillAttempts(row)));
  }

  /** Every attempt of every instant of a backfill, through the unique slot index. */
  #backfillAttempts(row: BackfillRow): RunRow[] {
    const out: RunRow[] = [];
    for (const slot of backfillSlots(row.id, row.instants)) {
      for (let attempt = 1; ; attempt++) {
        const run = this.#slots.get(slotKey(row.task, slot, attempt));
        if (run === undefined) break;
        out.push(run);
      }
    }
    return out;
  }

  async requestCancel(runId: string): Promise<'requested' | 'not-running' | 'not-found'> {
    const run = this.#runs.get(runId);
    if (run === undefined) return 'not-found';
    if (run.status !== 'running') return 'not-running';
    run.cancelRequested = true;
    this.#signal('cancel');
    return 'requested';
  }

  async retireInstance(instance: string, now: number): Promise<void> {
    const row = this.#instances.get(instance);
    if (row !== undefined) this.#instances.set(instance, { ...row, stoppedAt: new Date(now) });
  }

  async listInstances(): Promise<InstanceState[]> {
    return [...this.#instances.values()].sort((a, b) => a.instance.localeCompare(b.instance));
  }

  async poll(request: PollRequest): Promise<PollResult> {
    const { now } = request;
    const tasksCurrent = request.beat === undefined ? undefined : this.#beat(request.instance, request.beat, now);
    const peers = this.#peers(request.instance, now);
    const cancels: string[] = [];
    const interrupted: RunRecord[] = [];
    const retries: DueRetry[] = [];
    const queued: QueuedTick[] = [];
    const paused: PauseChange[] = [];
    for (let i = this.#pauseLog.length - 1; i >= 0; i--) {
      const entry = this.#pauseLog[i] as PauseLogEntry;
      if (entry.version <= request.pauseVersion) break;
      // Newest first; report each task once, with its current flag.
      const activity = entry.task.activity;
      if (activity?.pauseVersion === entry.version) {
        paused.push({ task: entry.task.name, paused: entry.task.paused, note: activity.pauseNote, pausedAt: activity.pausedAt, overrides: copyOverrides(activity.overrides), version: entry.version });
      }
    }
    const held = new Set(request.held);
    for (const task of [...this.#activeTasks]) {
      const running = activityOf(task).running;
      for (const run of running) {
        if ((run.leaseExpiresAt ?? 0) <= now && !held.has(run.id)) {
          running.delete(run);
          run.status = 'interrupted';
          run.finishedAt = run.leaseExpiresAt ?? now;
          run.leaseExpiresAt = null;
          run.error = captureError(new LeaseExpiredError(run.instance));
          interrupted.push(toRecord(run));
        } else if (run.cancelRequested && run.instance === request.instance) {
          cancels.push(run.id);
        }
      }
      const handedOver = this.#takeQueued(task, now);
      if (handedOver !== null) queued.push(handedOver);
    }
    for (const run of this.#pendingRetries) {
      if (run.retryAt === null || run.retryAt > now - request.retryGraceMs) continue;
      retries.push({
        task: run.task,
        slot: run.slot,
        attempt: run.attempt + 1,
        scheduledFor: run.scheduledFor,
        retryAt: run.retryAt,
        previousRunId: run.id,
      });
    }
    const backfills: ActiveBackfill[] = [];
    for (const row of this.#backfills.values()) if (row.status === 'running') backfills.push({ id: row.id, task: row.task, instants: row.instants });
    return {
      triggers: [...this.#triggers.values()],
      backfills,
      cancels,
      paused,
      pauseVersion: this.#pauseVersion,
      interrupted,
      retries,
      queued,
      ...(tasksCurrent !== undefined ? { tasksCurrent, peers } : {}),
    };
  }

  async getRun(id: string): Promise<RunRecord | null> {
    const run = this.#runs.get(id);
    return run === undefined ? null : toRecord(run);
  }

  async listCompletions(query: CompletionQuery): Promise<RunRecord[]> {
    const out: RunRow[] = [];
    for (const run of this.#runs.values()) {
      if (run.task === query.task && run.finishedAt !== null && run.finishedAt > query.endedAfter && query.statuses.includes(run.status as FinalStatus) && !run.slot.startsWith('b:')) out.push(run);
    }
    out.sort((a, b) => (a.finishedAt as number) - (b.finishedAt as number) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    if (query.order === 'newest') out.reverse();
    return out.slice(0, query.limit).map(toRecord);
  }

  async listRuns(query: RunQuery): Promise<RunPage> {
    const q = normaliseRunQuery(query);
    const runs: RunRecord[] = [];
    const rows = [...this.#runs.values()];
    let more = false;
    for (let i = rows.length - 1; i >= 0; i--) {
      const run = rows[i] as RunRow;
      if (q.before !== null && run.id >= q.before) continue;
      if (q.task !== null && run.task !== q.task) continue;
      if (q.statuses !== null && !q.statuses.includes(run.status)) continue;
      if (q.trigger !== null && run.trigger !== q.trigger) continue;
      if (q.fromMs !== null && run.scheduledFor < q.fromMs) continue;
      if (q.toMs !== null && run.scheduledFor >= q.toMs) continue;
      if (runs.length === q.limit) {
        more = true;
        break;
      }
      runs.push(toRecord(run));
    }
    return { runs, nextCursor: more ? (runs.at(-1)?.id ?? null) : null };
  }

  async runStats(query: RunStatsQuery): Promise<RunStats> {
    const q = normaliseStatsQuery(query);
    const runs: RunRecord[] = [];
    for (const run of this.#runs.values()) if (run.task === q.task) runs.push(toRecord(run));
    return statsOfRuns(q, runs);
  }

  async saveRunLogs(logs: readonly RunLog[]): Promise<void> {
    // Copies, as a database keeps them: the caller's buffers go on changing.
    for (const log of logs) if (this.#runs.has(log.runId)) this.#logs.set(log.runId, copyLog(log));
  }

  async getRunLog(runId: string): Promise<RunLog | null> {
    const log = this.#logs.get(runId);
    return log === undefined ? null : copyLog(log);
  }

  async recordAudit(entry: AuditEntry): Promise<void> {
    // A copy, as a database keeps it: the caller's objects may change afterwards.
    this.#audit.push({ ...entry, at: new Date(entry.at.getTime()), detail: entry.detail === null ? null : (JSON.parse(JSON.stringify(entry.detail)) as AuditEntry['detail']) });
  }

  async listAudit(query: AuditQuery): Promise<AuditPage> {
    const q = normaliseAuditQuery(query);
    const matching = this.#audit
      .filter((e) => (q.before === null || e.id < q.before) && (q.task === null || e.task === q.task))
      .sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    const entries = matching.slice(0, q.limit).map((e) => ({ ...e, at: new Date(e.at.getTime()) }));
    return { entries, nextCursor: matching.length > q.limit ? (entries.at(-1)?.id ?? null) : null };
  }

  async scheduleRetry(runId: string, retryAt: number): Promise<void> {
    const run = this.#runs.get(runId);
    if (run === undefined || run.status === 'running') return;
    if (this.#slots.has(slotKey(run.task, run.slot, run.attempt + 1))) return;
    run.retryAt = retryAt;
    this.#pendingRetries.add(run);
  }

  async prune(policy: RetentionPolicy, now: number, batchSize: number): Promise<number> {
    const cutoff = now - policy.maxAgeMs;
    // A task's last run and last success are never pruned: handlers read the latter as ctx.lastSuccess.
    const protectedIds = new Set<string>();
    this.#tasks.forEach((entry) => {
      const activity = activityIn(entry);
      if (activity?.lastRun != null) protectedIds.add(activity.lastRun.id);
      if (activity?.lastSuccess != null) protectedIds.add(activity.lastSuccess.runId);
    });
    // A backfill ended before the cutoff goes, and its runs with it; the runs of the others stay with
    // their backfill (a running one's slots tell every instance which instants have run).
    for (const [id, b] of this.#backfills) if (b.endedAt !== null && b.endedAt < cutoff) this.#backfills.delete(id);
    const backfilling = [...this.#backfills.values()].map((b) => backfillSlotPrefix(b.id));
    const keptPerTask = new Map<string, number>();
    const doomed: RunRow[] = [];
    const rows = [...this.#runs.values()];
    for (let i = rows.length - 1; i >= 0 && doomed.length < batchSize; i--) {
      const run = rows[i] as RunRow;
      if (run.status === 'running') continue;
      const kept = keptPerTask.get(run.task) ?? 0;
      const age = run.finishedAt ?? run.scheduledFor;
      // A run with a pending retry stays until the retry is claimed, or the retry would be lost.
      const retryPending = this.#pendingRetries.has(run) || (run.slot.startsWith('b:') && backfilling.some((prefix) => run.slot.startsWith(prefix)));
      if (!retryPending && !protectedIds.has(run.id) && (kept >= policy.maxPerTask || age < cutoff)) doomed.push(run);
      else keptPerTask.set(run.task, kept + 1);
    }
    for (const run of doomed) {
      this.#runs.delete(run.id);
      this.#logs.delete(run.id);
      this.#slots.delete(slotKey(run.task, run.slot, run.attempt));
    }
    for (const [name, row] of this.#instances) if (row.seenAt.getTime() < now - INSTANCE_RETENTION_MS) this.#instances.delete(name);
    for (const [key, n] of this.#notifications) if (n.record.status !== 'pending' && n.record.createdAt.getTime() < cutoff) this.#notifications.delete(key);
    return doomed.length;
  }

  subscribe(listener: (signal: StoreSignal) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Records a beat; true when the stored task list is the one this process sent last. */
  #beat(instance: string, beat: InstanceBeat, now: number): boolean {
    const row = this.#instances.get(instance);
    const restarted = row === undefined || row.stoppedAt !== null;
    this.#instances.set(instance, {
      instance,
      startedAt: restarted ? new Date(now) : row.startedAt,
      seenAt: new Date(now),
      pollIntervalMs: beat.pollIntervalMs,
      tasks: beat.tasks !== null ? [...beat.tasks] : (row?.tasks ?? []),
      stoppedAt: null,
    });
    const token = beat.tasks !== null ? beat.tasksToken : (this.#tasksTokens.get(instance) ?? '');
    this.#tasksTokens.set(instance, token);
    if (beat.tasks !== null) this.#digests.set(instance, beat.tasksDigest);
    return token === beat.tasksToken;
  }

  /** Live instances with the same task set as `instance`, by name. */
  #peers(instance: string, now: number): string[] {
    const digest = this.#digests.get(instance);
    if (digest === undefined || digest === '') return [];
    const out: string[] = [];
    for (const state of this.#instances.values()) if (this.#digests.get(state.instance) === digest && instanceAlive(state, now)) out.push(state.instance);
    return out.sort();
  }

  #signal(signal: StoreSignal): void {
    // Asynchronously, like a database notification: never re-enter the caller.
    queueMicrotask(() => {
      for (const listener of [...this.#listeners]) listener(signal);
    });
  }

  #newTask(name: string, scheduleKey: string, anchor: number | null, now: number): TaskRow {
    const row: TaskRow = { name, scheduleKey, anchor, since: now, lastTick: null, paused: false, activity: null };
    this.#tasks.set(name, row);
    return row;
  }

  /** The task's own row; undefined for a task the store does not know. */
  #row(name: string): TaskRow | undefined {
    const entry = this.#tasks.get(name);
    return entry === undefined ? undefined : this.#own(name, entry);
  }

  /** The row of the task under `entry`, made from its batch's entry on the task's first change. */
  #own(name: string, entry: TaskEntry): TaskRow {
    if (!(entry instanceof FreshTasks)) return entry;
    const row = this.#newTask(name, entry.scheduleKey, entry.anchor, entry.since);
    row.paused = entry.paused;
    return row;
  }

  #taskState(name: string, entry: TaskEntry): TaskState {
    const activity = activityIn(entry);
    return {
      name,
      scheduleKey: entry.scheduleKey,
      anchor: entry.anchor,
      since: entry.since,
      lastTick: entry.lastTick,
      paused: entry.paused,
      pauseNote: activity?.pauseNote ?? null,
      pausedAt: activity?.pausedAt ?? null,
      lastRun: activity?.lastRun == null ? null : toRecord(activity.lastRun),
      lastSuccess: activity?.lastSuccess ?? null,
    };
  }
}

/** What a task that ran or was paused carries; null for one untouched since it was registered. */
function activityIn(entry: TaskEntry): TaskActivity | null {
  return entry instanceof FreshTasks ? null : entry.activity;
}

/** An array of registrations as the list {@link MemoryStore.registerTaskList} reads. */
function registrationList(tasks: readonly TaskRegistration[]): TaskRegistrationList {
  const at = (i: number) => tasks[i] as TaskRegistration;
  return { length: tasks.length, name: (i) => at(i).name, scheduleKey: (i) => at(i).scheduleKey, anchor: (i) => at(i).anchor, paused: (i) => at(i).paused };
}

function copyLog(log: RunLog): RunLog {
  return {
    runId: log.runId,
    dropped: log.dropped,
    updatedAt: new Date(log.updatedAt.getTime()),
    lines: log.lines.map((l) => ({ ...l, at: new Date(l.at.getTime()), fields: l.fields === null ? null : (JSON.parse(JSON.stringify(l.fields)) as LogLine['fields']) })),
  };
}

/** A copy, as a database keeps it: the caller's objects may change afterwards. */
function copyOverrides(overrides: TaskOverrides | null): TaskOverrides | null {
  return overrides === null ? null : (JSON.parse(JSON.stringify(overrides)) as TaskOverrides);
}
