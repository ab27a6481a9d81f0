import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import { LeaseExpiredError } from '../../util/errors.ts';
import { captureError } from '../../util/json.ts';
import {
  type BackfillRequest,
  type ClaimOutcome,
  type NewNotification,
  type NotificationClaim,
  type NotificationOutcome,
  type ClaimRequest,
  type FinishOutcome,
  INSTANCE_RETENTION_MS,
  type InstanceState,
  type LeaseRef,
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
  type TaskState,
  type TriggerRequest,
  type CompletionQuery,
} from '../port.ts';
import { type BackfillAttempt, backfillIdOf, backfillListLimit, backfillRecord, backfillSlotPrefix, retryPending } from '../backfills.ts';
import { claimedRun, skippedColumns, startedColumns } from '../claimed-run.ts';
import { cursorTick, normaliseAuditQuery, normaliseNotificationQuery, normaliseRunQuery } from '../query.ts';
import { type AuditEntry, type AuditPage, type AuditQuery, type BackfillRecord, type BackfillStatus, type FinalStatus, type NotificationPage, type NotificationQuery, type NotificationRecord, type RetentionPolicy, RUN_STATUSES, type RunPage, type RunProgress, type RunQuery, type RunLog, type RunRecord, type RunStats, type RunStatsQuery, type SkipReason } from '../records.ts';
import { assembleStats, BucketPartsMap, normaliseStatsQuery, rankIndex } from '../run-stats.ts';
import { type AuditRow, auditFromRow, fromJson, type InstanceRow, instanceFromRow, lastPerRun, lastSuccessFromRow, linesToJson, notificationFromRow, type NotificationRow, readJsonText, type RunLogRow, runLogFromRow, type RunRow, runFromRow, toJson, type TriggerRow, triggerFromRow } from '../sql/codec.ts';
import { openDatabase, rollback, type SqliteConnectionOptions, sqliteFailure } from './connection.ts';
import { prepareStatements, type Statements } from './statements.ts';

/** SQLite keeps JSON columns as text. */
const toRun = (row: RunRow) => runFromRow(row, readJsonText);
const toLastSuccess = (row: RunRow) => lastSuccessFromRow(row, readJsonText);

interface SqliteBackfillRow {
  readonly id: string;
  readonly task: string;
  readonly from_ms: number;
  readonly to_ms: number;
  readonly instants: string;
  readonly status: BackfillStatus;
  readonly requested_by: string;
  readonly requested_at: number;
  readonly ended_at: number | null;
}

/** A backfill's slots as a range: they compare bytewise, and `;` follows `:`. */
function slotRange(backfillId: string): [string, string] {
  const prefix = backfillSlotPrefix(backfillId);
  return [prefix, `${prefix.slice(0, -1)};`];
}

interface TaskRow {
  readonly name: string;
  readonly schedule_key: string;
  readonly anchor: number | null;
  readonly since: number;
  readonly last_tick: number | null;
  readonly paused: number;
  readonly pause_note: string | null;
  readonly paused_at: number | null;
  readonly fencing: number;
  readonly queued: string | null;
  readonly last_run_id: string | null;
  readonly last_success_id: string | null;
}

/** Where the SQLite store keeps its data, and how it shares the file. */
export interface SqliteStoreOptions {
  /** The database file; created if missing. `':memory:'` works for tests. */
  readonly path: string;
  /** How long a writer waits for another process's transaction. @defaultValue 5000 */
  readonly busyTimeoutMs?: number;
  /**
   * `full` makes every committed claim survive a power cut (one fsync per commit); `normal` is
   * faster and may lose the last commits on power loss (not on a process crash).
   * @defaultValue 'full'
   */
  readonly synchronous?: 'normal' | 'full';
}

/**
 * Keeps state and history in a SQLite file through `node:sqlite`: the embedded default. Several
 * processes on one host (node:cluster, PM2, two daemons) can share the file: every operation is
 * one short immediate transaction, and claims are unique rows.
 *
 * @example
 * const scheduler = createScheduler({ store: sqliteStore({ path: './caretaker.db' }) });
 */
export function sqliteStore(options: SqliteStoreOptions): Store {
  return new SqliteStore({ path: options.path, busyTimeoutMs: options.busyTimeoutMs ?? 5_000, synchronous: options.synchronous ?? 'full' });
}

class SqliteStore implements Store {
  readonly kind = 'sqlite';
  /** Other processes change the file without telling: polls are how this instance hears of them. */
  readonly suggestedPollIntervalMs = 1_000;
  /** Covers an fsync'd commit and a few rounds of SQLite's busy back-off behind other writers. */
  readonly claimLeadMs = 60;
  readonly #options: SqliteConnectionOptions;
  readonly #listeners = new Set<(signal: StoreSignal) => void>();
  #db: DatabaseSync | null = null;
  #sql: Statements | null = null;
  #opening: Promise<void> | null = null;
  #openCount = 0;

  constructor(options: SqliteConnectionOptions) {
    this.#options = options;
  }

  async open(): Promise<void> {
    this.#openCount++;
    this.#opening ??= openDatabase(this.#options).then((db) => {
      this.#db = db;
      this.#sql = prepareStatements(db);
    });
    try {
      await this.#opening;
    } catch (error) {
      this.#openCount--;
      this.#opening = null;
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.#openCount === 0) return;
    this.#openCount--;
    if (this.#openCount > 0) return;
    await this.#opening;
    this.#db?.close();
    this.#db = null;
    this.#sql = null;
    this.#opening = null;
  }

  #connection(): { db: DatabaseSync; sql: Statements } {
    if (this.#db === null || this.#sql === null) throw new Error('the SQLite store is not open; call open() first');
    return { db: this.#db, sql: this.#sql };
  }

  /** Runs `work` in one immediate transaction (the write lock, taken up front). */
  #tx<T>(work: (sql: Statements) => T): T {
    const { db, sql } = this.#connection();
    try {
      db.exec('BEGIN IMMEDIATE');
    } catch (error) {
      throw sqliteFailure(error, this.#options.path);
    }
    try {
      const result = work(sql);
      db.exec('COMMIT');
      return result;
    } catch (error) {
      rollback(db);
      throw sqliteFailure(error, this.#options.path);
    }
  }

  async registerTasks(tasks: readonly TaskRegistration[], now: number): Promise<(TaskState | null)[]> {
    return this.#tx((sql) =>
      tasks.map((reg) => {
        if (sql.taskInsert.run(reg.name, reg.scheduleKey, reg.anchor, now, reg.paused ? 1 : 0).changes === 1) return null;
        let row = sql.taskGet.get(reg.name) as unknown as TaskRow;
        if (row.schedule_key !== reg.scheduleKey) {
          sql.taskReset.run(reg.scheduleKey, reg.anchor, now, reg.name);
          row = sql.taskGet.get(reg.name) as unknown as TaskRow;
        }
        return this.#taskState(sql, row);
      }),
    );
  }

  #taskState(sql: Statements, row: TaskRow): TaskState {
    const lastRun = row.last_run_id === null ? undefined : (sql.runGet.get(row.last_run_id) as RunRow | undefined);
    const lastSuccess = row.last_success_id === null ? undefined : (sql.runGet.get(row.last_success_id) as RunRow | undefined);
    return {
      name: row.name,
      scheduleKey: row.schedule_key,
      anchor: row.anchor,
      since: row.since,
      lastTick: row.last_tick,
      paused: row.paused === 1,
      pauseNote: row.pause_note,
      pausedAt: row.paused_at,
      lastRun: lastRun === undefined ? null : toRun(lastRun),
      lastSuccess: lastSuccess === undefined ? null : toLastSuccess(lastSuccess),
    };
  }

  async listTasks(): Promise<TaskState[]> {
    const { sql } = this.#connection();
    return (sql.taskList.all() as unknown as TaskRow[]).map((row) => this.#taskState(sql, row));
  }

  async claim(requests: readonly ClaimRequest[], now: number): Promise<ClaimOutcome[]> {
    return this.#tx((sql) => requests.map((req) => this.#claimOne(sql, req, now)));
  }

  #claimOne(sql: Statements, req: ClaimRequest, now: number): ClaimOutcome {
    if (sql.runBySlot.get(req.task, req.slot, req.attempt) !== undefined) return { kind: 'taken' };
    // A backfill that ended (a cancel included) starts nothing more, retries of it neither.
    const backfill = backfillIdOf(req.slot);
    if (backfill !== null && (sql.backfillStatus.get(backfill) as { status: string } | undefined)?.status !== 'running') return { kind: 'taken' };
    let task = sql.taskGet.get(req.task) as unknown as TaskRow | undefined;
    if (task === undefined) {
      sql.taskInsert.run(req.task, '', null, now, 0);
      task = sql.taskGet.get(req.task) as unknown as TaskRow;
    }
    if (req.skip !== null) return { kind: 'skipped', run: this.#insertSkipped(sql, req, req.skip, req.skippedTicks) };
    const max = req.overlap === 'allow' || req.overlap === 'wait' ? req.maxConcurrent : 1;
    let replaced: string[] = [];
    // Most claims find nothing running: count first, list the live runs only for `replace`.
    if ((sql.runsLiveCount.get(req.task, now) as { n: number }).n >= max) {
      switch (req.overlap) {
        case 'skip':
        case 'allow':
          return { kind: 'skipped', run: this.#insertSkipped(sql, req, 'overlap') };
        case 'queue': {
          const queued = fromJson<QueuedTick>(task.queued);
          if (queued !== null) return queued.slot === req.slot ? { kind: 'taken' } : { kind: 'skipped', run: this.#insertSkipped(sql, req, 'overlap') };
          const tick: QueuedTick = { task: req.task, runId: req.runId, slot: req.slot, trigger: req.trigger, scheduledFor: req.scheduledFor, dueAt: req.dueAt };
          sql.taskSetQueued.run(toJson(tick), req.task);
          this.#consumeTrigger(sql, req);
          return { kind: 'queued' };
        }
        case 'wait':
          return { kind: 'busy' };
        case 'replace':
          replaced = (sql.runsLive.all(req.task, now) as { id: string }[]).map((r) => r.id);
          for (const id of replaced) sql.runRequestCancel.run(id);
          if (replaced.length > 0) this.#signal('cancel');
          break;
      }
    }
    const { fencing } = sql.taskNextFencing.get(req.task) as { fencing: number };
    const columns = startedColumns(req, now, fencing);
    this.#insertRun(sql, req, columns.startedAt, 'running', null, 0, fencing, columns.leaseExpiresAt);
    const lastSuccess = task.last_success_id === null ? undefined : (sql.runGet.get(task.last_success_id) as RunRow | undefined);
    return {
      kind: 'started',
      run: claimedRun(req, columns),
      lastSuccess: lastSuccess === undefined ? null : toLastSuccess(lastSuccess),
      replaced,
    };
  }

  #insertSkipped(sql: Statements, req: ClaimRequest, reason: SkipReason, ticks = 1): RunRecord {
    const columns = skippedColumns(reason, ticks);
    this.#insertRun(sql, req, null, 'skipped', reason, columns.skippedTicks, null, null);
    return claimedRun(req, columns);
  }

  #insertRun(
    sql: Statements,
    req: ClaimRequest,
    startedAt: number | null,
    status: 'running' | 'skipped',
    skipReason: SkipReason | null,
    skippedTicks: number,
    fencing: number | null,
    leaseExpiresAt: number | null,
  ): void {
    const params: SQLInputValue[] = [req.runId, req.task, req.slot, req.attempt, req.trigger, req.scheduledFor, req.dueAt, startedAt, status];
    params.push(req.instance, skipReason, skippedTicks, fencing, leaseExpiresAt, req.causedBy ?? null);
    sql.runInsert.run(...params);
    const tick = cursorTick(req);
    sql.taskTouch.run(req.runId, tick, tick, tick, req.task);
    this.#consumeTrigger(sql, req);
  }

  #consumeTrigger(sql: Statements, req: ClaimRequest): void {
    if (req.slot.startsWith('m:')) sql.triggerDelete.run(req.slot.slice(2));
  }

  async renewLeases(leases: readonly LeaseRef[], leaseMs: number, now: number): Promise<string[]> {
    if (leases.length === 0) return [];
    return this.#tx((sql) => leases.filter((l) => sql.runRenew.run(now + leaseMs, l.runId, l.fencingToken, now).changes === 0).map((l) => l.runId));
  }

  async finish(completion: RunCompletion, now: number): Promise<FinishOutcome> {
    return this.#tx((sql) => this.#finishOne(sql, completion, now));
  }

  async finishMany(completions: readonly RunCompletion[], now: number): Promise<FinishOutcome[]> {
    if (completions.length === 0) return [];
    // One transaction, one commit (and fsync) for the whole batch.
    return this.#tx((sql) => completions.map((completion) => this.#finishOne(sql, completion, now)));
  }

  #finishOne(sql: Statements, completion: RunCompletion, now: number): FinishOutcome {
    const row = sql.runGet.get(completion.runId) as RunRow | undefined;
    if (row === undefined || row.status !== 'running' || Number(row.fencing_token) !== completion.fencingToken) return { kind: 'fenced' };
    const task = sql.taskGet.get(row.task) as unknown as TaskRow | undefined;
    // A run whose lease lapsed may still finish, unless another run of its task started since.
    if (Number(row.lease_expires_at) <= now && task !== undefined && task.fencing !== completion.fencingToken) return { kind: 'fenced' };
    sql.runFinish.run(
      completion.status,
      completion.startedAt,
      completion.finishedAt,
      toJson(completion.output),
      toJson(completion.error),
      completion.retryAt,
      toJson(completion.progress),
      completion.skipReason ?? null,
      completion.deferredMs ?? null,
      completion.runId,
    );
    sql.taskFinished.run(completion.runId, completion.status, completion.runId, row.task);
    const queued = completion.takeQueued ? this.#takeQueued(sql, row.task, now) : null;
    return { kind: 'recorded', run: toRun(sql.runGet.get(completion.runId) as unknown as RunRow), queued };
  }

  async unclaimed(slots: readonly SlotRef[]): Promise<boolean[]> {
    const { sql } = this.#connection();
    return slots.map((s) => sql.runBySlot.get(s.task, s.slot, s.attempt) === undefined);
  }

  #takeQueued(sql: Statements, task: string, now: number): QueuedTick | null {
    const row = sql.taskGet.get(task) as unknown as TaskRow | undefined;
    if (row === undefined || row.queued === null || (sql.runsLive.all(task, now) as unknown[]).length > 0) return null;
    sql.taskSetQueued.run(null, task);
    return fromJson<QueuedTick>(row.queued);
  }

  async recordProgress(lease: LeaseRef, progress: RunProgress): Promise<void> {
    this.#tx((sql) => sql.runProgress.run(toJson(progress), lease.runId, lease.fencingToken));
  }

  async setPaused(task: string, paused: boolean, now: number, note: string | null = null): Promise<boolean> {
    const changed = this.#tx((sql) => {
      const row = sql.taskGet.get(task) as unknown as TaskRow | undefined;
      if (row === undefined) return null;
      const kept = paused ? note : null;
      const wasPaused = row.paused === 1;
      if (wasPaused === paused && row.pause_note === kept) return false;
      const { value } = sql.pauseVersionNext.get() as { value: number };
      // Pausing a paused task again changes its note, not when it was paused.
      const pausedAt = !paused ? null : wasPaused ? row.paused_at : now;
      sql.taskSetPaused.run(paused ? 1 : 0, kept, pausedAt, value, task);
      return true;
    });
    if (changed === true) this.#signal('pause');
    return changed !== null;
  }

  async setOverrides(task: string, overrides: TaskOverrides | null, _now: number, expected?: TaskOverrides | null): Promise<OverridesWrite> {
    const result = this.#tx((sql): OverridesWrite => {
      const row = sql.taskGet.get(task) as unknown as (TaskRow & { overrides: string | null }) | undefined;
      if (row === undefined) return { status: 'unknown' };
      // Stored as our own JSON text, read back and written again the same: text equality is value equality.
      if (expected !== undefined && row.overrides !== toJson(expected)) return { status: 'changed' };
      const { value } = sql.pauseVersionNext.get() as { value: number };
      sql.taskSetOverrides.run(toJson(overrides), value, task);
      return { status: 'set', version: Number(value) };
    });
    if (result.status === 'set') this.#signal('pause');
    return result;
  }

  async listOverrides(tasks?: readonly string[]): Promise<{ task: string; overrides: TaskOverrides; version: number }[]> {
    const { sql } = this.#connection();
    type Row = { name: string; overrides: string; pause_version: number };
    // A few names by key; many (a first start) in one scan.
    const rows = tasks === undefined || tasks.length > 500 ? (sql.tasksOverridden.all() as Row[]) : tasks.flatMap((name) => (sql.taskOverrides.get(name) as Row | undefined) ?? []);
    const wanted = tasks === undefined || tasks.length <= 500 ? null : new Set(tasks);
    return rows.filter((r) => wanted === null || wanted.has(r.name)).map((r) => ({ task: r.name, overrides: fromJson<TaskOverrides>(r.overrides) as TaskOverrides, version: Number(r.pause_version) }));
  }

  async withdrawTrigger(id: string): Promise<boolean> {
    return this.#tx((sql) => sql.triggerDelete.run(id).changes === 1);
  }

  async requestTrigger(trigger: TriggerRequest): Promise<void> {
    const retry = trigger.retryOf;
    this.#tx((sql) => sql.triggerInsert.run(trigger.id, trigger.task, trigger.requestedAt, retry?.runId ?? null, retry?.scheduledFor ?? null, retry?.attempt ?? null));
    this.#signal('trigger');
  }

  async enqueueNotifications(items: readonly NewNotification[], now: number): Promise<number> {
    if (items.length === 0) return 0;
    return this.#tx((sql) => {
      let added = 0;
      for (const n of items) added += Number(sql.notificationInsert.run(n.id, n.eventId, n.channel, n.kind, n.task, toJson(n.event), now).changes);
      return added;
    });
  }

  async claimNotifications(instance: string, now: number, leaseMs: number, limit: number, skipChannels: readonly string[] = []): Promise<NotificationRecord[]> {
    const rows = this.#tx((sql) => sql.notificationsClaim.all(instance, now, leaseMs, limit, JSON.stringify(skipChannels)) as unknown as NotificationRow[]);
    return rows.map((r) => notificationFromRow(r, readJsonText)).sort((a, b) => (a.nextAttemptAt?.getTime() ?? 0) - (b.nextAttemptAt?.getTime() ?? 0) || (a.id < b.id ? -1 : 1));
  }

  async settleNotification(claim: NotificationClaim, outcome: NotificationOutcome, now: number): Promise<boolean> {
    const retryAt = outcome.status === 'pending' ? outcome.retryAt : null;
    const error = outcome.status === 'delivered' ? null : outcome.error;
    const deliveredAt = outcome.status === 'delivered' ? now : null;
    const refund = outcome.status === 'pending' && outcome.refund === true ? 1 : 0;
    return this.#tx((sql) => sql.notificationSettle.run(outcome.status, retryAt, error, deliveredAt, claim.eventId, claim.channel, claim.instance, claim.attempt, refund).changes === 1);
  }

  async listNotifications(query: NotificationQuery): Promise<NotificationPage> {
    const q = normaliseNotificationQuery(query);
    const where: string[] = [];
    const params: SQLInputValue[] = [];
    const filter = (clause: string, value: SQLInputValue) => {
      where.push(clause);
      params.push(value);
    };
    if (q.before !== null) filter('id < ?', q.before);
    if (q.task !== null) filter('task = ?', q.task);
    if (q.status !== null) filter('status = ?', q.status);
    const text = `SELECT * FROM caretaker_notifications${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    const rows = this.#connection().db.prepare(text).all(...params, q.limit + 1) as unknown as NotificationRow[];
    const notifications = rows.slice(0, q.limit).map((r) => notificationFromRow(r, readJsonText));
    return { notifications, nextCursor: rows.length > q.limit ? (notifications.at(-1)?.id ?? null) : null };
  }

  async requestBackfill(request: BackfillRequest): Promise<void> {
    this.#tx((sql) => sql.backfillInsert.run(request.id, request.task, request.from, request.to, JSON.stringify(request.instants), request.requestedBy, request.requestedAt));
    this.#signal('trigger');
  }

  async endBackfill(id: string, status: 'done' | 'cancelled', now: number): Promise<'ended' | 'busy' | 'not-running' | 'not-found'> {
    const result = this.#tx((sql) => {
      const row = sql.backfillGet.get(id) as SqliteBackfillRow | undefined;
      if (row === undefined) return 'not-found' as const;
      if (row.status !== 'running') return 'not-running' as const;
      const [low, high] = slotRange(id);
      const attempts = sql.backfillAttempts.all(row.task, low, high) as unknown as (BackfillAttempt & { retry_at: number | null })[];
      // Done only once nothing of it runs or waits for a retry.
      if (status === 'done' && (attempts.some((a) => a.status === 'running') || retryPending(attempts))) return 'busy' as const;
      sql.backfillEnd.run(status, now, id);
      sql.backfillCancelRuns.run(row.task, low, high);
      sql.backfillClearRetries.run(row.task, low, high);
      return 'ended' as const;
    });
    if (result === 'ended') this.#signal(status === 'cancelled' ? 'cancel' : 'trigger');
    return result;
  }

  async getBackfill(id: string): Promise<BackfillRecord | null> {
    const { sql } = this.#connection();
    const row = sql.backfillGet.get(id) as SqliteBackfillRow | undefined;
    return row === undefined ? null : this.#backfillRecord(sql, row);
  }

  async listBackfills(query: { readonly task?: string; readonly limit?: number }): Promise<BackfillRecord[]> {
    const { sql } = this.#connection();
    const limit = backfillListLimit(query.limit);
    const rows = (query.task === undefined ? sql.backfillsAll.all(limit) : sql.backfillsOfTask.all(query.task, limit)) as unknown as SqliteBackfillRow[];
    return rows.map((row) => this.#backfillRecord(sql, row));
  }

  #backfillRecord(sql: Statements, row: SqliteBackfillRow): BackfillRecord {
    const attempts = sql.backfillAttempts.all(row.task, ...slotRange(row.id)) as unknown as BackfillAttempt[];
    return backfillRecord(
      {
        id: row.id,
        task: row.task,
        from: Number(row.from_ms),
        to: Number(row.to_ms),
        instants: JSON.parse(row.instants) as number[],
        status: row.status,
        requestedBy: row.requested_by,
        requestedAt: Number(row.requested_at),
        endedAt: row.ended_at === null ? null : Number(row.ended_at),
      },
      attempts,
    );
  }

  async requestCancel(runId: string): Promise<'requested' | 'not-running' | 'not-found'> {
    const result = this.#tx((sql) => {
      const row = sql.runGet.get(runId) as RunRow | undefined;
      if (row === undefined) return 'not-found' as const;
      if (row.status !== 'running') return 'not-running' as const;
      sql.runRequestCancel.run(runId);
      return 'requested' as const;
    });
    if (result === 'requested') this.#signal('cancel');
    return result;
  }

  async retireInstance(instance: string, now: number): Promise<void> {
    this.#tx((sql) => sql.instanceRetire.run(now, instance));
  }

  async listInstances(): Promise<InstanceState[]> {
    return (this.#connection().sql.instancesAll.all() as unknown as InstanceRow[]).map(instanceFromRow);
  }

  async poll(request: PollRequest): Promise<PollResult> {
    const { now, beat } = request;
    return this.#tx((sql): PollResult => {
      const beaten =
        beat === undefined
          ? undefined
          : (sql.instanceBeat.get(request.instance, now, beat.pollIntervalMs, beat.tasks === null ? null : JSON.stringify(beat.tasks), beat.tasksToken, beat.tasksDigest) as { current: number });
      const peers = beat === undefined ? [] : (sql.instancePeers.all(request.instance, now) as { name: string }[]).map((p) => p.name);
      const held = new Set(request.held);
      const expired = (sql.runsExpired.all(now) as unknown as RunRow[]).filter((run) => !held.has(run.id));
      const interrupted = expired.map((run) => {
        const error = toJson(captureError(new LeaseExpiredError(run.instance)));
        return toRun(sql.runInterrupt.get(error, run.id) as unknown as RunRow);
      });
      const queued: QueuedTick[] = [];
      for (const row of sql.tasksQueuedIdle.all(now) as { name: string; queued: string }[]) {
        sql.taskSetQueued.run(null, row.name);
        queued.push(fromJson<QueuedTick>(row.queued) as QueuedTick);
      }
      return {
        triggers: (sql.triggersAll.all() as unknown as TriggerRow[]).map(triggerFromRow),
        backfills: (sql.backfillsRunning.all() as { id: string; task: string; instants: string }[]).map((b) => ({ id: b.id, task: b.task, instants: JSON.parse(b.instants) as number[] })),
        cancels: (sql.runsCancelRequested.all(request.instance) as { id: string }[]).map((r) => r.id),
        paused: (sql.tasksPausedSince.all(request.pauseVersion) as { name: string; paused: number; pause_note: string | null; paused_at: number | null; overrides: string | null; pause_version: number }[]).map((t) => ({
          task: t.name,
          paused: t.paused === 1,
          note: t.pause_note,
          pausedAt: t.paused_at,
          overrides: fromJson<TaskOverrides>(t.overrides),
          version: Number(t.pause_version),
        })),
        pauseVersion: (sql.pauseVersion.get() as { value: number }).value,
        interrupted,
        retries: (sql.runsRetryDue.all(now - request.retryGraceMs) as unknown as RunRow[]).map((r) => ({
          task: r.task,
          slot: r.slot,
          attempt: Number(r.attempt) + 1,
          scheduledFor: Number(r.scheduled_for),
          retryAt: Number(r.retry_at),
          previousRunId: r.id,
        })),
        queued,
        ...(beaten !== undefined ? { tasksCurrent: beaten.current === 1, peers } : {}),
      };
    });
  }

  // Reads are single statements (atomic on their own) and never take the write lock.

  async getRun(id: string): Promise<RunRecord | null> {
    const row = this.#connection().sql.runGet.get(id) as RunRow | undefined;
    return row === undefined ? null : toRun(row);
  }

  async listRuns(query: RunQuery): Promise<RunPage> {
    const q = normaliseRunQuery(query);
    const where: string[] = [];
    const params: SQLInputValue[] = [];
    // Fixed fragments with placeholders: no value is ever spliced into the SQL text.
    const filter = (clause: string, ...values: SQLInputValue[]) => {
      where.push(clause);
      params.push(...values);
    };
    if (q.before !== null) filter('id < ?', q.before);
    if (q.task !== null) filter('task = ?', q.task);
    if (q.statuses !== null) filter(`status IN (${q.statuses.map(() => '?').join(', ')})`, ...q.statuses);
    if (q.trigger !== null) filter('trigger = ?', q.trigger);
    if (q.fromMs !== null) filter('scheduled_for >= ?', q.fromMs);
    if (q.toMs !== null) filter('scheduled_for < ?', q.toMs);
    const text = `SELECT * FROM caretaker_runs${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    const rows = this.#connection().db.prepare(text).all(...params, q.limit + 1) as unknown as RunRow[];
    const runs = rows.slice(0, q.limit).map(toRun);
    return { runs, nextCursor: rows.length > q.limit ? (runs.at(-1)?.id ?? null) : null };
  }

  async listCompletions(query: CompletionQuery): Promise<RunRecord[]> {
    if (query.statuses.length === 0) return [];
    const text = `SELECT * FROM caretaker_runs WHERE task = ? AND finished_at IS NOT NULL AND finished_at > ?
      AND status IN (${query.statuses.map(() => '?').join(', ')}) AND slot NOT LIKE 'b:%' ORDER BY ${query.order === 'newest' ? 'finished_at DESC, id DESC' : 'finished_at, id'} LIMIT ?`;
    const rows = this.#connection().db.prepare(text).all(query.task, query.endedAfter, ...query.statuses, query.limit) as unknown as RunRow[];
    return rows.map(toRun);
  }

  async runStats(query: RunStatsQuery): Promise<RunStats> {
    const q = normaliseStatsQuery(query);
    const { db } = this.#connection();
    // BigInts bind as INTEGER (a JS number binds as REAL): the bucket is an integer division.
    const range = { task: q.task, from: BigInt(q.fromMs), to: BigInt(q.toMs) };
    const bucketed = { ...range, bucket: BigInt(q.bucketMs) };
    const inRange = 'task = :task AND scheduled_for >= :from AND scheduled_for < :to';
    const parts = new BucketPartsMap();
    // Keys are checked (letters, digits, _ $ -): quoted, they are safe inside a JSON path.
    const path = q.fieldPath === null ? null : `$${q.fieldPath.map((k) => `."${k}"`).join('')}`;
    // One pass over the range, in one read transaction with the points below (one snapshot: another
    // process may be writing ends). `o` is the run's status when it is its tick's outcome (no retry of
    // it was scheduled, or no later attempt exists); the subquery's LIMIT keeps SQLite from
    // flattening it, which would evaluate `o` and `f` once per aggregate that reads them.
    db.exec('BEGIN');
    try {
      const rows = db
        .prepare(
          `SELECT b, ${RUN_STATUSES.map((st) => (st === 'skipped' ? `sum(CASE WHEN o = 'skipped' THEN max(skipped_ticks, 1) END)` : `sum(o = '${st}')`) + ` AS "${st}"`).join(', ')},
              json_group_array(d) FILTER (WHERE d IS NOT NULL) AS ds,
              count(f) AS f_count, total(f) AS f_sum, total(f * 5.421010862427522e-20) * 18446744073709551616.0 AS f_scaled, min(f) AS f_min, max(f) AS f_max
            FROM (SELECT (scheduled_for - :from) / :bucket AS b, skipped_ticks,
                CASE WHEN retry_at IS NULL OR NOT EXISTS (SELECT 1 FROM caretaker_runs n WHERE n.task = x.task AND n.slot = x.slot AND n.attempt > x.attempt) THEN status END AS o,
                CASE WHEN status NOT IN ('running', 'skipped') THEN finished_at - started_at END AS d,
                ${path === null ? 'NULL' : `CASE WHEN json_type(output, :path) IN ('integer', 'real') THEN CAST(json_extract(output, :path) AS REAL) END`} AS f
              FROM caretaker_runs x WHERE ${inRange} LIMIT -1)
            GROUP BY b`,
        )
        .all(path === null ? bucketed : { ...bucketed, path }) as unknown as Record<string, number | string | null>[];
      let withDuration = 0;
      for (const r of rows) {
        const b = Number(r.b);
        for (const st of RUN_STATUSES) parts.addOutcome(b, st, Number(r[st] ?? 0));
        // Durations come back as a JSON array, which SQLite writes with every double exact; the
        // percentiles are ranked here (SQLite's window functions cost more than the rest of the pass).
        const ds = JSON.parse(String(r.ds)) as number[];
        if (ds.length > 0) {
          ds.sort((x, y) => x - y);
          const n = ds.length;
          withDuration += n;
          parts.setDurations(b, { count: n, p50: ds[rankIndex(50, n)] as number, p95: ds[rankIndex(95, n)] as number, max: ds[n - 1] as number });
        }
        const fields = Number(r.f_count);
        // The plain total unless it overflowed on the way: the scaled one cannot, but loses subnormals.
        const sum = Number.isFinite(Number(r.f_sum)) ? Number(r.f_sum) : Number(r.f_scaled);
        if (fields > 0) parts.setField(b, { count: fields, sum, min: Number(r.f_min), max: Number(r.f_max) });
      }
      const timed = `${inRange} AND status NOT IN ('running', 'skipped') AND started_at IS NOT NULL AND finished_at IS NOT NULL`;
      const newest =
        q.pointLimit === 0
          ? []
          : (db
              .prepare(`SELECT id, scheduled_for, finished_at - started_at AS d, status FROM caretaker_runs WHERE ${timed} ORDER BY scheduled_for DESC, id DESC LIMIT :limit`)
              .all({ ...range, limit: q.pointLimit }) as unknown as { id: string; scheduled_for: number; d: number; status: FinalStatus }[]);
      const points = newest.reverse().map((r) => ({ runId: r.id, scheduledFor: new Date(Number(r.scheduled_for)), durationMs: r.d, status: r.status }));
      db.exec('COMMIT');
      return assembleStats(q, parts, points, withDuration);
    } catch (error) {
      rollback(db);
      throw error;
    }
  }

  async saveRunLogs(logs: readonly RunLog[]): Promise<void> {
    if (logs.length === 0) return;
    this.#tx((sql) => {
      for (const log of lastPerRun(logs)) sql.runLogSave.run(log.runId, JSON.stringify(linesToJson(log.lines)), log.dropped, log.updatedAt.getTime());
    });
  }

  async getRunLog(runId: string): Promise<RunLog | null> {
    const row = this.#connection().sql.runLogGet.get(runId) as RunLogRow | undefined;
    return row === undefined ? null : runLogFromRow(row, readJsonText);
  }

  async recordAudit(entry: AuditEntry): Promise<void> {
    this.#tx((sql) =>
      sql.auditInsert.run(entry.id, entry.at.getTime(), entry.actor, entry.source, entry.action, entry.task, entry.runId, toJson(entry.detail)),
    );
  }

  async listAudit(query: AuditQuery): Promise<AuditPage> {
    const q = normaliseAuditQuery(query);
    const where: string[] = [];
    const params: SQLInputValue[] = [];
    if (q.before !== null) {
      where.push('id < ?');
      params.push(q.before);
    }
    if (q.task !== null) {
      where.push('task = ?');
      params.push(q.task);
    }
    const text = `SELECT * FROM caretaker_audit${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    const rows = this.#connection().db.prepare(text).all(...params, q.limit + 1) as unknown as AuditRow[];
    const entries = rows.slice(0, q.limit).map((r) => auditFromRow(r, readJsonText));
    return { entries, nextCursor: rows.length > q.limit ? (entries.at(-1)?.id ?? null) : null };
  }

  async scheduleRetry(runId: string, retryAt: number): Promise<void> {
    this.#tx((sql) => sql.runScheduleRetry.run(retryAt, runId));
  }

  async prune(policy: RetentionPolicy, now: number, batchSize: number): Promise<number> {
    const maxAge = Number.isFinite(policy.maxAgeMs) ? now - policy.maxAgeMs : Number.MIN_SAFE_INTEGER;
    return Number(
      this.#tx((sql) => {
        sql.instancesPrune.run(now - INSTANCE_RETENTION_MS);
        sql.notificationsPrune.run(maxAge);
        sql.backfillsPrune.run(maxAge);
        return sql.runPrune.run(policy.maxPerTask, maxAge, batchSize).changes;
      }),
    );
  }

  subscribe(listener: (signal: StoreSignal) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Wakes schedulers of this process at once; other processes hear of it at their next poll. */
  #signal(signal: StoreSignal): void {
    queueMicrotask(() => {
      for (const listener of [...this.#listeners]) listener(signal);
    });
  }
}
