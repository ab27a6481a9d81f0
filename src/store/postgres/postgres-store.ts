import type { Pool } from 'pg';
import { describeValue, InvalidOptionError } from '../../util/errors.ts';
import {
  type ActiveBackfill,
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
  type TaskRegistration,
  type OverridesWrite,
  type TaskOverrides,
  type TaskState,
  type TriggerRequest,
  type CompletionQuery,
} from '../port.ts';
import { type BackfillAttempt, backfillListLimit, backfillRecord, claimOutsideEndedBackfills } from '../backfills.ts';
import { claimedRun, skippedColumns, splitPlainTicks } from '../claimed-run.ts';
import { normaliseAuditQuery, normaliseNotificationQuery, normaliseRunQuery } from '../query.ts';
import { type AuditEntry, type AuditPage, type AuditQuery, type BackfillRecord, type BackfillStatus, type FinalStatus, type NotificationPage, type NotificationQuery, type NotificationRecord, type LastSuccess, type RetentionPolicy, RUN_STATUSES, type RunPage, type RunProgress, type RunLog, type RunQuery, type RunRecord, type RunStats, type RunStatsQuery } from '../records.ts';
import { assembleStats, BucketPartsMap, normaliseStatsQuery } from '../run-stats.ts';
import { type AuditRow, auditFromRow, type InstanceRow, instanceFromRow, lastPerRun, lastSuccessFromRow, linesToJson, notificationFromRow, type NotificationRow, type RunLogRow, runLogFromRow, type RunRow, runFromRow, type TriggerRow, triggerFromRow } from '../sql/codec.ts';
import { postgresOpenFailure } from './connection-errors.ts';
import { ENVELOPE_KEY, fromJsonb, toJsonb } from './jsonb.ts';
import { Listener } from './listener.ts';
import { migratePostgres, quoteSchema } from './migrate.ts';

/**
 * What the store uses of a `pg` Pool, which fits it. Declared here rather than imported from
 * `pg` so that the published types compile without `@types/pg` (only a development dependency).
 */
export interface PgPoolLike {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
  connect(): Promise<PgPoolClientLike>;
}

/** A client checked out of a {@link PgPoolLike}: the migrations and the LISTEN connection use it. */
export interface PgPoolClientLike {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
  on(event: 'notification', listener: (message: { channel: string; payload?: string | undefined }) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  removeAllListeners(event: 'notification'): unknown;
  release(destroy?: boolean): void;
}

/** Where the PostgreSQL store connects, and in which schema it keeps its tables. */
export interface PostgresStoreOptions {
  /** A connection string; the store then owns its pool. Give this or `pool`. */
  readonly url?: string;
  /** Your own `pg` Pool; the store borrows connections and never ends it. Give this or `url`. */
  readonly pool?: PgPoolLike;
  /** The schema for Caretaker's tables; created if missing. @defaultValue 'caretaker' */
  readonly schema?: string;
  /** Size of the pool the store creates from `url` (one more connection listens). @defaultValue 4 */
  readonly poolSize?: number;
}

/** The driver hands jsonb columns over parsed. */
const toRun = (row: RunRow) => runFromRow(row, fromJsonb);
const toLastSuccess = (row: RunRow) => lastSuccessFromRow(row, fromJsonb);

/** PostgreSQL text cannot hold NUL: no stored id contains one, so such an id matches nothing. */
const storableText = (value: string): boolean => !value.includes('\0');
/** PostgreSQL text cannot hold NUL: a message that has one keeps a replacement character instead. */
const pgText = (value: string): string => value.replaceAll('\0', '\uFFFD');

interface PgBackfillRow {
  readonly id: string;
  readonly task: string;
  readonly from_ms: string | number;
  readonly to_ms: string | number;
  readonly instants: (string | number)[];
  readonly status: BackfillStatus;
  readonly requested_by: string;
  readonly requested_at: string | number;
  readonly ended_at: string | number | null;
  readonly attempts: BackfillAttempt[];
}
/** Text as a text column can hold it: NUL becomes U+FFFD. */
const text = (value: string): string => value.replaceAll('\0', '\ufffd');

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
/** The database's clock in Unix milliseconds (to the microsecond), as a float8 the driver parses. */
const STORE_NOW = '(extract(epoch from clock_timestamp()) * 1000)::float8';
/** JSON cannot carry Infinity: "unlimited" concurrency travels as the largest integer column value. */
const UNLIMITED = 2_147_483_647;

/**
 * Keeps state and history in PostgreSQL: the store for many hosts. Every operation is one
 * statement (a function the migration installs), so a tick costs one round trip per replica;
 * LISTEN/NOTIFY wakes other replicas at once for triggers, pauses and cancels.
 *
 * @example
 * const scheduler = createScheduler({ store: postgresStore({ url: process.env.DATABASE_URL }) });
 */
export function postgresStore(options: PostgresStoreOptions): Store {
  const schema = options.schema ?? 'caretaker';
  const problems = [];
  if ((options.url === undefined) === (options.pool === undefined)) {
    problems.push({ path: 'url', received: describeValue(options.url), fix: 'give exactly one of "url" (a connection string) or "pool" (a pg Pool)' });
  }
  if (!SCHEMA_NAME.test(schema)) {
    problems.push({ path: 'schema', received: describeValue(schema), fix: 'use lowercase letters, digits and "_", starting with a letter or "_" (at most 63)' });
  }
  if (options.poolSize !== undefined && (!Number.isInteger(options.poolSize) || options.poolSize < 1)) {
    problems.push({ path: 'poolSize', received: describeValue(options.poolSize), fix: 'use a whole number of at least 1' });
  }
  if (problems.length > 0) throw new InvalidOptionError('postgresStore', problems);
  return new PostgresStore(options, schema);
}

class PostgresStore implements Store {
  readonly kind = 'postgres';
  /** LISTEN/NOTIFY pushes changes; polling only backs it up (and finds expired leases). */
  readonly suggestedPollIntervalMs = 5_000;
  /** Covers a round trip, replicas queueing on the same claim row, and a new pool connection. */
  readonly claimLeadMs = 100;
  readonly #options: PostgresStoreOptions;
  readonly #schema: string;
  readonly #q: string;
  readonly #listeners = new Set<(signal: StoreSignal) => void>();
  #pool: Pool | null = null;
  #ownsPool = false;
  #listener: Listener | null = null;
  #opening: Promise<void> | null = null;
  #openCount = 0;

  constructor(options: PostgresStoreOptions, schema: string) {
    this.#options = options;
    this.#schema = schema;
    this.#q = quoteSchema(schema);
  }

  async open(): Promise<void> {
    this.#openCount++;
    this.#opening ??= this.#connect();
    try {
      await this.#opening;
    } catch (error) {
      this.#openCount--;
      this.#opening = null;
      await this.#release();
      throw error;
    }
  }

  async #connect(): Promise<void> {
    if (this.#options.pool !== undefined) {
      // A PgPoolLike is the part of a Pool that this store, its migrations and its listener call.
      this.#pool = this.#options.pool as Pool;
    } else {
      // Loaded on first use, like node:sqlite: users of other stores never load pg.
      const pg = (await import('pg')).default;
      const pool = new pg.Pool({ connectionString: this.#options.url, max: this.#options.poolSize ?? 4 });
      // An idle client's error must not crash the process; the next query reports it.
      pool.on('error', () => {});
      this.#pool = pool;
      this.#ownsPool = true;
    }
    try {
      await migratePostgres(this.#pool, this.#schema);
    } catch (error) {
      throw postgresOpenFailure(error, this.#options.url);
    }
  }

  async close(): Promise<void> {
    if (this.#openCount === 0) return;
    this.#openCount--;
    if (this.#openCount > 0) return;
    await this.#opening?.catch(() => {});
    await this.#release();
    this.#opening = null;
  }

  async #release(): Promise<void> {
    await this.#listener?.stop();
    this.#listener = null;
    if (this.#ownsPool) await this.#pool?.end();
    this.#pool = null;
    this.#ownsPool = false;
  }

  /** One statement; the only way this store talks to the database. */
  async #query<T extends object>(text: string, values: unknown[] = []): Promise<T[]> {
    if (this.#pool === null) throw new Error('the PostgreSQL store is not open; call open() first');
    return (await this.#pool.query<T>(text, values)).rows;
  }

  async registerTasks(tasks: readonly TaskRegistration[], now: number): Promise<(TaskState | null)[]> {
    const rows = await this.#query<{ i: number; state: RegisteredState | null }>(
      `SELECT i, state FROM ${this.#q}.caretaker_register($1, $2)`,
      [JSON.stringify(tasks), now],
    );
    const out: (TaskState | null)[] = new Array(tasks.length).fill(null);
    for (const { i, state } of rows) out[i - 1] = state === null ? null : taskState(state);
    return out;
  }

  async listTasks(): Promise<TaskState[]> {
    const q = this.#q;
    const rows = await this.#query<{ state: RegisteredState }>(
      `SELECT jsonb_build_object('task', to_jsonb(t),
          'lastRun', (SELECT to_jsonb(r) FROM ${q}.caretaker_runs r WHERE r.id = t.last_run_id),
          'lastSuccess', (SELECT to_jsonb(r) FROM ${q}.caretaker_runs r WHERE r.id = t.last_success_id)) AS state
        FROM ${q}.caretaker_tasks t ORDER BY t.name`,
    );
    return rows.map((row) => taskState(row.state));
  }

  async claim(requests: readonly ClaimRequest[], now: number): Promise<ClaimOutcome[]> {
    if (requests.length === 0) return [];
    // A backfill that ended starts nothing more (checked just before: a cancel also reaches every
    // instance at once through NOTIFY, and asks its running runs to cancel).
    if (requests.some((r) => r.slot.startsWith('b:'))) {
      const running = async (ids: readonly string[]) =>
        new Set((await this.#query<{ id: string }>(`SELECT id FROM ${this.#q}.caretaker_backfills WHERE id = ANY ($1) AND status = 'running'`, [ids.filter(storableText)])).map((r) => r.id));
      return claimOutsideEndedBackfills(requests, running, (rest) => this.#claimAll(rest, now), { kind: 'taken' } as ClaimOutcome);
    }
    return this.#claimAll(requests, now);
  }

  async #claimAll(requests: readonly ClaimRequest[], now: number): Promise<ClaimOutcome[]> {
    if (requests.length === 0) return [];
    const out: ClaimOutcome[] = new Array(requests.length);
    // A burst's plain ticks are claimed set-based; the rest, touching other tasks, one by one.
    const { plain, rest } = splitPlainTicks(requests);
    const claimRest = async (query: Query) => {
      const wire = rest.map((i) => {
        const r = requests[i] as ClaimRequest;
        return { ...r, maxConcurrent: Number.isFinite(r.maxConcurrent) ? r.maxConcurrent : UNLIMITED };
      });
      const rows = await query<{ i: number; outcome: WireOutcome }>(`SELECT i, outcome FROM ${this.#q}.caretaker_claim($1, $2)`, [JSON.stringify(wire), now]);
      for (const { i, outcome } of rows) out[rest[i - 1] as number] = claimOutcome(outcome);
    };
    if (rest.length === 0) await this.#claimTicks(this.#query.bind(this), requests, plain, now, out);
    else if (plain.length === 0) await claimRest(this.#query.bind(this));
    else {
      // Both or neither: a batch that fails must leave no run behind (its jobs are claimed again,
      // and would find their own runs taken and never start them).
      await this.#transaction(async (query) => {
        // Every task row of the batch first, in name order, as each statement would lock its own:
        // two replicas taking their two statements' rows in another order would deadlock.
        await query(`SELECT 1 FROM ${this.#q}.caretaker_tasks WHERE name = ANY ($1) ORDER BY name FOR UPDATE`, [[...new Set(requests.map((r) => r.task))]]);
        await this.#claimTicks(query, requests, plain, now, out);
        await claimRest(query);
      });
    }
    return out;
  }

  /** Runs `work` in one transaction on one connection; rolled back if it throws. */
  async #transaction(work: (query: Query) => Promise<void>): Promise<void> {
    if (this.#pool === null) throw new Error('the PostgreSQL store is not open; call open() first');
    const client = await this.#pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      await work(async <T extends object>(text: string, values: unknown[] = []) => (await client.query(text, values)).rows as T[]);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw error;
    } finally {
      client.release(broken);
    }
  }

  /** Plain tick claims as columns: a few bytes per claim instead of a JSON object each. */
  async #claimTicks(query: Query, requests: readonly ClaimRequest[], indexes: readonly number[], now: number, out: ClaimOutcome[]): Promise<void> {
    const batch = indexes.map((i) => requests[i] as ClaimRequest);
    const column = <T>(pick: (r: ClaimRequest) => T) => batch.map(pick);
    const rows = await query<{ i: number; kind: 'started' | 'skipped' | 'taken'; fencing: string | number | null; last_success: RunRow | null }>(
      `SELECT i, kind, fencing, last_success FROM ${this.#q}.caretaker_claim_ticks($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        column((r) => r.runId),
        column((r) => r.task),
        column((r) => r.scheduledFor),
        column((r) => r.dueAt),
        column((r) => r.startAt),
        column((r) => r.overlap),
        column((r) => (Number.isFinite(r.maxConcurrent) ? r.maxConcurrent : UNLIMITED)),
        column((r) => r.leaseMs),
        column((r) => r.instance),
        now,
      ],
    );
    for (const row of rows) {
      const req = batch[row.i - 1] as ClaimRequest;
      const at = indexes[row.i - 1] as number;
      if (row.kind === 'taken') out[at] = { kind: 'taken' };
      else if (row.kind === 'skipped') out[at] = { kind: 'skipped', run: claimedRun(req, skippedColumns('overlap')) };
      else {
        const fencingToken = Number(row.fencing);
        const run = claimedRun(req, { status: 'running', startedAt: Math.max(now, req.startAt), fencingToken, leaseExpiresAt: now + req.leaseMs, skipReason: null, skippedTicks: 0 });
        out[at] = { kind: 'started', run, lastSuccess: row.last_success === null ? null : toLastSuccess(row.last_success), replaced: [] };
      }
    }
  }

  async renewLeases(leases: readonly LeaseRef[], leaseMs: number, now: number): Promise<string[]> {
    if (leases.length === 0) return [];
    const [row] = await this.#query<{ lost: string[] }>(`SELECT ${this.#q}.caretaker_renew($1, $2, $3, $4) AS lost`, [
      leases.map((l) => l.runId),
      leases.map((l) => l.fencingToken),
      leaseMs,
      now,
    ]);
    return row?.lost ?? [];
  }

  async finish(completion: RunCompletion, now: number): Promise<FinishOutcome> {
    const wire = { ...completion, output: toJsonb(completion.output), error: toJsonb(completion.error), progress: toJsonb(completion.progress) };
    const [row] = await this.#query<{ result: WireFinish }>(`SELECT ${this.#q}.caretaker_finish($1, $2) AS result`, [JSON.stringify(wire), now]);
    const result = row?.result;
    if (result === undefined || result.kind === 'fenced') return { kind: 'fenced' };
    return { kind: 'recorded', run: toRun(result.run), queued: result.queued ?? null };
  }

  async finishMany(completions: readonly RunCompletion[], now: number): Promise<FinishOutcome[]> {
    if (completions.length === 0) return [];
    if (completions.length === 1) return [await this.finish(completions[0] as RunCompletion, now)];
    const json = (value: unknown) => (value === null ? null : JSON.stringify(toJsonb(value)));
    const texts = completions.map((c) => ({ output: json(c.output), error: json(c.error), progress: json(c.progress) }));
    // Large outputs go in several statements: one of hundreds of megabytes would hold the
    // event loop (and the renewals) while it is built and sent.
    const out: FinishOutcome[] = [];
    let from = 0;
    let bytes = 0;
    for (let i = 0; i < completions.length; i++) {
      const t = texts[i] as (typeof texts)[number];
      bytes += (t.output?.length ?? 0) + (t.error?.length ?? 0) + (t.progress?.length ?? 0);
      if (bytes >= MAX_FINISH_BYTES || i === completions.length - 1) {
        out.push(...(await this.#finishBatch(completions.slice(from, i + 1), texts.slice(from, i + 1), now)));
        from = i + 1;
        bytes = 0;
      }
    }
    return out;
  }

  async #finishBatch(
    completions: readonly RunCompletion[],
    texts: readonly { output: string | null; error: string | null; progress: string | null }[],
    now: number,
  ): Promise<FinishOutcome[]> {
    const column = <T>(pick: (c: RunCompletion) => T) => completions.map(pick);
    const [row] = await this.#query<FinishedColumns>(
      `SELECT * FROM ${this.#q}.caretaker_finish_many($1, $2, $3, $4, $5, $6::jsonb[], $7::jsonb[], $8, $9::jsonb[], $10, $11::text[], $12::double precision[], $13)`,
      [
        column((c) => c.runId),
        column((c) => c.fencingToken),
        column((c) => c.status),
        column((c) => c.startedAt),
        column((c) => c.finishedAt),
        jsonArrayLiteral(texts.map((t) => t.output)),
        jsonArrayLiteral(texts.map((t) => t.error)),
        column((c) => c.retryAt),
        jsonArrayLiteral(texts.map((t) => t.progress)),
        column((c) => c.takeQueued),
        column((c) => c.skipReason ?? null),
        column((c) => c.deferredMs ?? null),
        now,
      ],
    );
    const out: FinishOutcome[] = completions.map(() => ({ kind: 'fenced' }));
    if (row === undefined || row.n === null) return out;
    // A queued tick goes to the first recorded end of its task that asked for it.
    const handed = new Map((row.queued ?? []).map((tick) => [tick.task, tick]));
    row.n.forEach((n, k) => {
      const c = completions[n - 1] as RunCompletion;
      // The record is the row just written: what the caller sent, and the columns it did not.
      const written = toRun({
        id: c.runId,
        task: row.task[k] as string,
        slot: row.slot[k] as string,
        attempt: row.attempt[k] as number,
        trigger: row.trg[k] as string,
        scheduled_for: row.scheduled_for[k] as string,
        due_at: row.due_at[k] as string,
        started_at: c.startedAt,
        finished_at: c.finishedAt,
        status: c.status,
        output: null,
        error: null,
        instance: row.instance[k] ?? null,
        skip_reason: c.skipReason ?? null,
        skipped_ticks: row.skipped_ticks[k] as number,
        deferred_ms: c.deferredMs ?? null,
        fencing_token: c.fencingToken,
        progress: row.progress[k] ?? null,
        retry_at: c.retryAt,
        lease_expires_at: null,
        caused_by: row.caused_by[k] ?? null,
      });
      const run: RunRecord = { ...written, output: c.output, error: c.error };
      const queued = c.takeQueued ? (handed.get(run.task) ?? null) : null;
      if (queued !== null) handed.delete(run.task);
      out[n - 1] = { kind: 'recorded', run, queued };
    });
    return out;
  }

  async unclaimed(slots: readonly SlotRef[]): Promise<boolean[]> {
    if (slots.length === 0) return [];
    // No stored task name or slot contains NUL, so such a slot is unclaimed without asking.
    const [row] = await this.#query<{ free: number[] }>(`SELECT ${this.#q}.caretaker_unclaimed($1, $2, $3) AS free`, [
      slots.map((s) => s.task.replaceAll('\0', '')),
      slots.map((s) => s.slot.replaceAll('\0', '')),
      slots.map((s) => s.attempt),
    ]);
    const out = slots.map((s) => !storableText(s.task) || !storableText(s.slot));
    for (const n of row?.free ?? []) out[n - 1] = true;
    return out;
  }

  async recordProgress(lease: LeaseRef, progress: RunProgress): Promise<void> {
    await this.#query(`UPDATE ${this.#q}.caretaker_runs SET progress = $1 WHERE id = $2 AND fencing_token = $3 AND status = 'running'`, [
      JSON.stringify(toJsonb(progress)),
      lease.runId,
      lease.fencingToken,
    ]);
  }

  async setPaused(task: string, paused: boolean, now: number, note: string | null = null): Promise<boolean> {
    const [row] = await this.#query<{ ok: boolean }>(`SELECT ${this.#q}.caretaker_set_paused($1, $2, $3, $4) AS ok`, [task, paused, note, now]);
    return row?.ok === true;
  }

  async setOverrides(task: string, overrides: TaskOverrides | null, _now: number, expected?: TaskOverrides | null): Promise<OverridesWrite> {
    if (!storableText(task)) return { status: 'unknown' };
    const json = (o: TaskOverrides | null | undefined) => (o === null || o === undefined ? null : JSON.stringify(toJsonb(o)));
    const [row] = await this.#query<{ result: { status: 'set' | 'changed' | 'unknown'; version?: string | number } }>(
      `SELECT ${this.#q}.caretaker_set_overrides($1, $2::jsonb, $3, $4::jsonb) AS result`,
      [task, json(overrides), expected !== undefined, json(expected)],
    );
    const result = row?.result;
    return result?.status === 'set' ? { status: 'set', version: Number(result.version) } : { status: result?.status === 'changed' ? 'changed' : 'unknown' };
  }

  async listOverrides(tasks?: readonly string[]): Promise<{ task: string; overrides: TaskOverrides; version: number }[]> {
    const names = tasks === undefined ? null : tasks.filter(storableText);
    const rows = await this.#query<{ name: string; overrides: unknown; pause_version: string | number }>(
      `SELECT name, overrides, pause_version FROM ${this.#q}.caretaker_tasks WHERE overrides IS NOT NULL AND ($1::text[] IS NULL OR name = ANY ($1))`,
      [names],
    );
    return rows.map((r) => ({ task: r.name, overrides: fromJsonb(r.overrides) as TaskOverrides, version: Number(r.pause_version) }));
  }

  async withdrawTrigger(id: string): Promise<boolean> {
    if (!storableText(id)) return false;
    return (await this.#query<{ id: string }>(`DELETE FROM ${this.#q}.caretaker_triggers WHERE id = $1 RETURNING id`, [id])).length === 1;
  }

  async requestTrigger(trigger: TriggerRequest): Promise<void> {
    const retry = trigger.retryOf;
    if (retry === undefined) await this.#query(`SELECT ${this.#q}.caretaker_request_trigger($1, $2, $3)`, [trigger.id, trigger.task, trigger.requestedAt]);
    else await this.#query(`SELECT ${this.#q}.caretaker_request_retry($1, $2, $3, $4, $5, $6)`, [trigger.id, trigger.task, trigger.requestedAt, retry.runId, retry.scheduledFor, retry.attempt]);
  }

  async enqueueNotifications(items: readonly NewNotification[], now: number): Promise<number> {
    if (items.length === 0) return 0;
    const [row] = await this.#query<{ added: number }>(
      `WITH added AS (
        INSERT INTO ${this.#q}.caretaker_notifications (id, event_id, channel, kind, task, event, status, attempts, next_attempt_at, created_at)
        SELECT n.id, n.event_id, n.channel, n.kind, n.task, n.event, 'pending', 0, $2, $2
          FROM jsonb_to_recordset($1::jsonb) AS n(id text, event_id text, channel text, kind text, task text, event jsonb)
        ON CONFLICT (event_id, channel) DO NOTHING RETURNING 1
      ) SELECT count(*)::integer AS added FROM added`,
      [JSON.stringify(items.map((n) => ({ id: n.id, event_id: pgText(n.eventId), channel: pgText(n.channel), kind: pgText(n.kind), task: pgText(n.task), event: toJsonb(n.event) }))), now],
    );
    return row?.added ?? 0;
  }

  async claimNotifications(instance: string, now: number, leaseMs: number, limit: number, skipChannels: readonly string[] = []): Promise<NotificationRecord[]> {
    const rows = await this.#query<NotificationRow>(
      `UPDATE ${this.#q}.caretaker_notifications SET claimed_by = $1, claim_expires_at = $2::bigint + $3::bigint, attempts = attempts + 1
        WHERE id IN (SELECT id FROM ${this.#q}.caretaker_notifications WHERE status = 'pending' AND next_attempt_at <= $2
          AND (claim_expires_at IS NULL OR claim_expires_at <= $2) AND NOT (channel = ANY ($5::text[]))
          ORDER BY next_attempt_at, id LIMIT $4 FOR UPDATE SKIP LOCKED)
        RETURNING *`,
      [pgText(instance), now, leaseMs, limit, skipChannels.map(pgText)],
    );
    return rows.map((r) => notificationFromRow(r, fromJsonb)).sort((a, b) => (a.nextAttemptAt?.getTime() ?? 0) - (b.nextAttemptAt?.getTime() ?? 0) || (a.id < b.id ? -1 : 1));
  }

  async settleNotification(claim: NotificationClaim, outcome: NotificationOutcome, now: number): Promise<boolean> {
    const rows = await this.#query(
      `UPDATE ${this.#q}.caretaker_notifications SET status = $1, next_attempt_at = $2, last_error = $3, delivered_at = $4,
          claimed_by = CASE WHEN $1 = 'pending' THEN NULL ELSE claimed_by END, claim_expires_at = NULL, attempts = attempts - $9::integer
        WHERE event_id = $5 AND channel = $6 AND claimed_by = $7 AND attempts = $8 AND status = 'pending' RETURNING 1`,
      [
        outcome.status,
        outcome.status === 'pending' ? outcome.retryAt : null,
        outcome.status === 'delivered' || outcome.error === null ? null : pgText(outcome.error),
        outcome.status === 'delivered' ? now : null,
        pgText(claim.eventId),
        pgText(claim.channel),
        pgText(claim.instance),
        claim.attempt,
        outcome.status === 'pending' && outcome.refund === true ? 1 : 0,
      ],
    );
    return rows.length === 1;
  }

  async listNotifications(query: NotificationQuery): Promise<NotificationPage> {
    const q = normaliseNotificationQuery(query);
    if (q.task !== null && !storableText(q.task)) return { notifications: [], nextCursor: null };
    const where: string[] = [];
    const values: unknown[] = [];
    const filter = (column: string, value: unknown, op = '=') => {
      values.push(value);
      where.push(`${column} ${op} $${values.length}`);
    };
    if (q.before !== null) filter('id', q.before, '<');
    if (q.task !== null) filter('task', q.task);
    if (q.status !== null) filter('status', q.status);
    values.push(q.limit + 1);
    const rows = await this.#query<NotificationRow>(
      `SELECT * FROM ${this.#q}.caretaker_notifications${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${values.length}`,
      values,
    );
    const notifications = rows.slice(0, q.limit).map((r) => notificationFromRow(r, fromJsonb));
    return { notifications, nextCursor: rows.length > q.limit ? (notifications.at(-1)?.id ?? null) : null };
  }

  async requestBackfill(request: BackfillRequest): Promise<void> {
    await this.#query(`SELECT ${this.#q}.caretaker_request_backfill($1, $2, $3, $4, $5, $6, $7)`, [
      request.id,
      request.task,
      request.from,
      request.to,
      request.instants,
      request.requestedBy,
      request.requestedAt,
    ]);
  }

  async endBackfill(id: string, status: 'done' | 'cancelled', now: number): Promise<'ended' | 'busy' | 'not-running' | 'not-found'> {
    if (!storableText(id)) return 'not-found';
    const [row] = await this.#query<{ result: 'ended' | 'busy' | 'not-running' | 'not-found' }>(`SELECT ${this.#q}.caretaker_end_backfill($1, $2, $3) AS result`, [id, status, now]);
    return row?.result ?? 'not-found';
  }

  async getBackfill(id: string): Promise<BackfillRecord | null> {
    if (!storableText(id)) return null;
    const [found] = await this.#backfills('b.id = $1', [id]);
    return found ?? null;
  }

  async listBackfills(query: { readonly task?: string; readonly limit?: number }): Promise<BackfillRecord[]> {
    if (query.task !== undefined && !storableText(query.task)) return [];
    const limit = backfillListLimit(query.limit);
    return query.task === undefined ? this.#backfills('true', [], limit) : this.#backfills('b.task = $1', [query.task], limit);
  }

  /** Backfills with every attempt of their instants, newest first: one statement, index lookups by slot. */
  async #backfills(where: string, values: unknown[], limit = 1): Promise<BackfillRecord[]> {
    const rows = await this.#query<PgBackfillRow>(
      // One index lookup per instant: the slots are built once per backfill, never per run row.
      `SELECT b.*, (SELECT coalesce(jsonb_agg(jsonb_build_object('slot', r.slot, 'attempt', r.attempt, 'status', r.status)), '[]')
          FROM unnest(b.instants) AS u(i) JOIN ${this.#q}.caretaker_runs r ON r.task = b.task AND r.slot = 'b:' || b.id || ':' || u.i) AS attempts
        FROM ${this.#q}.caretaker_backfills b WHERE ${where} ORDER BY b.id DESC LIMIT ${Math.trunc(limit)}`,
      values,
    );
    return rows.map((row) =>
      backfillRecord(
        {
          id: row.id,
          task: row.task,
          from: Number(row.from_ms),
          to: Number(row.to_ms),
          instants: row.instants.map(Number),
          status: row.status,
          requestedBy: row.requested_by,
          requestedAt: Number(row.requested_at),
          endedAt: row.ended_at === null ? null : Number(row.ended_at),
        },
        row.attempts,
      ),
    );
  }

  async requestCancel(runId: string): Promise<'requested' | 'not-running' | 'not-found'> {
    if (!storableText(runId)) return 'not-found';
    const [row] = await this.#query<{ result: 'requested' | 'not-running' | 'not-found' }>(`SELECT ${this.#q}.caretaker_request_cancel($1) AS result`, [runId]);
    return row?.result ?? 'not-found';
  }

  async storeTime(): Promise<number> {
    const [row] = await this.#query<{ now: number }>(`SELECT ${STORE_NOW} AS now`);
    return Number(row?.now);
  }

  async poll(request: PollRequest): Promise<PollResult> {
    // The clock and the instance's heartbeat ride along on the poll: neither costs a statement.
    const beat = request.beat;
    const values: unknown[] = [request.instance, request.now, request.pauseVersion, request.now - request.retryGraceMs, request.held ?? []];
    if (beat !== undefined) values.push(beat.pollIntervalMs, beat.tasks === null ? null : JSON.stringify(beat.tasks), beat.tasksToken, beat.tasksDigest);
    // caretaker_peers is volatile: its query sees the beat made just before it in this statement.
    const beating = beat === undefined ? '' : `, ${this.#q}.caretaker_beat($1, $2, $6, $7::jsonb, $8, $9) AS current, ${this.#q}.caretaker_peers($1, $2) AS peers`;
    const backfills = `(SELECT coalesce(jsonb_agg(jsonb_build_object('id', id, 'task', task, 'instants', instants)), '[]') FROM ${this.#q}.caretaker_backfills WHERE status = 'running') AS backfills`;
    const [row] = await this.#query<{ result: WirePoll; now: number; current?: boolean; peers?: string[]; backfills: ActiveBackfill[] }>(
      `SELECT ${this.#q}.caretaker_poll($1, $2, $3, $4, $5) AS result${beating}, ${backfills}, ${STORE_NOW} AS now`,
      values,
    );
    const r = row?.result;
    if (r === undefined) throw new Error('caretaker_poll returned nothing');
    return {
      triggers: r.triggers.map(triggerFromRow),
      backfills: row?.backfills ?? [],
      cancels: r.cancels,
      paused: r.paused.map((p) => ({
        task: p.task,
        paused: p.paused,
        note: p.note ?? null,
        pausedAt: p.pausedAt == null ? null : Number(p.pausedAt),
        overrides: (fromJsonb(p.overrides) as TaskOverrides | null) ?? null,
        ...(p.version !== undefined ? { version: Number(p.version) } : {}),
      })),
      pauseVersion: Number(r.pauseVersion),
      interrupted: r.interrupted.map(toRun),
      retries: r.retries.map((x) => ({ ...x, scheduledFor: Number(x.scheduledFor), retryAt: Number(x.retryAt) })),
      queued: r.queued,
      storeNow: Number(row?.now),
      ...(beat !== undefined ? { tasksCurrent: row?.current === true, peers: row?.peers ?? [] } : {}),
    };
  }

  async getRun(id: string): Promise<RunRecord | null> {
    if (!storableText(id)) return null;
    const [row] = await this.#query<RunRow>(`SELECT * FROM ${this.#q}.caretaker_runs WHERE id = $1`, [id]);
    return row === undefined ? null : toRun(row);
  }

  async listCompletions(query: CompletionQuery): Promise<RunRecord[]> {
    if (query.statuses.length === 0) return [];
    const rows = await this.#query<RunRow>(
      `SELECT * FROM ${this.#q}.caretaker_runs WHERE task = $1 AND finished_at IS NOT NULL AND finished_at > $2 AND status = ANY ($3)
        AND slot NOT LIKE 'b:%' ORDER BY ${query.order === 'newest' ? 'finished_at DESC, id DESC' : 'finished_at, id'} LIMIT $4`,
      [query.task, query.endedAfter, query.statuses, query.limit],
    );
    return rows.map(toRun);
  }

  async listRuns(query: RunQuery): Promise<RunPage> {
    const q = normaliseRunQuery(query);
    const where: string[] = [];
    const values: unknown[] = [];
    // Fixed fragments with numbered parameters: no value is ever spliced into the SQL text.
    const filter = (clause: (n: number) => string, value: unknown) => {
      values.push(value);
      where.push(clause(values.length));
    };
    if (q.before !== null) filter((n) => `id < $${n}`, q.before);
    if (q.task !== null) filter((n) => `task = $${n}`, q.task);
    if (q.statuses !== null) filter((n) => `status = ANY ($${n})`, q.statuses);
    if (q.trigger !== null) filter((n) => `trigger = $${n}`, q.trigger);
    if (q.fromMs !== null) filter((n) => `scheduled_for >= $${n}`, q.fromMs);
    if (q.toMs !== null) filter((n) => `scheduled_for < $${n}`, q.toMs);
    values.push(q.limit + 1);
    const text = `SELECT * FROM ${this.#q}.caretaker_runs${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${values.length}`;
    const rows = await this.#query<RunRow>(text, values);
    const runs = rows.slice(0, q.limit).map(toRun);
    return { runs, nextCursor: rows.length > q.limit ? (runs.at(-1)?.id ?? null) : null };
  }

  async runStats(query: RunStatsQuery): Promise<RunStats> {
    const q = normaliseStatsQuery(query);
    const parts = new BucketPartsMap();
    let withDuration = 0;
    // No stored task name contains NUL (PostgreSQL text cannot): nothing matches.
    if (!storableText(q.task)) return assembleStats(q, parts, [], 0);
    const runs = `${this.#q}.caretaker_runs`;
    const inRange = 'task = $1 AND scheduled_for >= $2 AND scheduled_for < $3';
    // An output jsonb could not hold is kept as its JSON text in an envelope (jsonb.ts). Its field
    // is read from that text as jsonb with the escapes jsonb refuses replaced (they sit in strings,
    // never in a number); json operators would fail on them wherever they are in the text.
    const envelope = `output ? '${ENVELOPE_KEY}' AND output - '${ENVELOPE_KEY}' = '{}'::jsonb AND jsonb_typeof(output -> '${ENVELOPE_KEY}') = 'string'`;
    const opened = `regexp_replace(output ->> '${ENVELOPE_KEY}', '\\\\u(0000|[dD][89a-fA-F][0-9a-fA-F]{2})', '\\\\ufffd', 'g')::jsonb`;
    const field =
      q.fieldPath === null
        ? 'NULL::float8'
        : `CASE WHEN jsonb_typeof(output #> $5::text[]) = 'number' THEN (output #>> $5::text[])::float8
            WHEN ${envelope} AND jsonb_typeof(${opened} #> $5::text[]) = 'number' THEN (${opened} #>> $5::text[])::float8 END`;
    // Statuses as small numbers (their index in RUN_STATUSES): seven integer tests per row cost less than seven text ones.
    const code = (status: string) => RUN_STATUSES.indexOf(status as (typeof RUN_STATUSES)[number]);
    const ticks = (status: string) => (status === 'skipped' ? `coalesce(sum(greatest(skipped_ticks, 1)) FILTER (WHERE o = ${code('skipped')}), 0)` : `count(*) FILTER (WHERE o = ${code(status)})`);
    // One pass over the range. `o` is the run's status when it is its tick's outcome (no retry of
    // it was scheduled, or no later attempt exists); OFFSET 0 keeps the planner from pulling the
    // subquery up, which would evaluate `o` and `f` once per aggregate that reads them.
    const pass = (sum: string) =>
      `SELECT b, ${RUN_STATUSES.map((st) => `${ticks(st)} AS "${st}"`).join(', ')},
          count(d) AS d_count, percentile_disc(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY d) AS d_ranks, max(d) AS d_max,
          count(f) AS f_count, ${sum} AS f_sum, min(f) AS f_min, max(f) AS f_max
        FROM (SELECT (scheduled_for - $2) / $4 AS b, skipped_ticks,
            CASE WHEN retry_at IS NULL OR NOT EXISTS (SELECT 1 FROM ${runs} n WHERE n.task = x.task AND n.slot = x.slot AND n.attempt > x.attempt)
              THEN CASE status ${RUN_STATUSES.map((st) => `WHEN '${st}' THEN ${code(st)}`).join(' ')} END END AS o,
            CASE WHEN status NOT IN ('running', 'skipped') THEN finished_at - started_at END AS d,
            ${field} AS f
          FROM ${runs} x WHERE ${inRange} OFFSET 0) r
        GROUP BY b`;
    const values = [q.task, q.fromMs, q.toMs, q.bucketMs, ...(q.fieldPath === null ? [] : [q.fieldPath])];
    type Row = Record<string, string | number | null> & { d_ranks: number[] | null };
    type PointRow = { id: string; scheduled_for: string; d: number; status: FinalStatus };
    const read = async (sum: string) => {
      let rows: Row[] = [];
      let newest: PointRow[] = [];
      await this.#transaction(async (query) => {
        // One snapshot for both reads (ends are being written meanwhile). JIT compilation alone
        // costs more than the query (~120 ms), a parallel plan on a small machine more than it
        // saves; the percentile sort wants memory.
        await query(`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET LOCAL jit = off; SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL work_mem = '64MB'; SET LOCAL statement_timeout = '30s'`);
        rows = await query<Row>(pass(sum), values);
        if (q.pointLimit === 0) return;
        newest = await query<PointRow>(
          `SELECT id, scheduled_for, finished_at - started_at AS d, status FROM ${runs}
            WHERE ${inRange} AND status NOT IN ('running', 'skipped') AND started_at IS NOT NULL AND finished_at IS NOT NULL
            ORDER BY scheduled_for DESC, id COLLATE "C" DESC LIMIT $4`,
          [q.task, q.fromMs, q.toMs, q.pointLimit],
        );
      });
      return { rows, newest };
    };
    let result: Awaited<ReturnType<typeof read>>;
    try {
      result = await read('sum(f)');
    } catch (error) {
      // A float8 sum past 1.8e308 is an error, not a result: such a range is summed as numeric.
      if ((error as { code?: string }).code !== '22003') throw error;
      result = await read('sum(f::numeric)');
    }
    for (const r of result.rows) {
      const b = Number(r.b);
      for (const st of RUN_STATUSES) parts.addOutcome(b, st, Number(r[st]));
      const count = Number(r.d_count);
      withDuration += count;
      const [p50, p95] = r.d_ranks ?? [];
      if (count > 0) parts.setDurations(b, { count, p50: Number(p50), p95: Number(p95), max: Number(r.d_max) });
      const fields = Number(r.f_count);
      if (fields > 0) parts.setField(b, { count: fields, sum: Number(r.f_sum), min: Number(r.f_min), max: Number(r.f_max) });
    }
    const points = result.newest.reverse().map((r) => ({ runId: r.id, scheduledFor: new Date(Number(r.scheduled_for)), durationMs: Number(r.d), status: r.status }));
    return assembleStats(q, parts, points, withDuration);
  }

  async saveRunLogs(logs: readonly RunLog[]): Promise<void> {
    const batch = lastPerRun(logs).filter((l) => storableText(l.runId));
    if (batch.length === 0) return;
    // A run the store no longer has (pruned) is skipped rather than refused by its foreign key.
    await this.#query(
      `INSERT INTO ${this.#q}.caretaker_run_logs (run_id, lines, dropped, updated_at)
        SELECT u.run_id, u.lines, u.dropped, u.updated_at FROM unnest($1::text[], $2::jsonb[], $3::bigint[], $4::bigint[]) AS u(run_id, lines, dropped, updated_at)
          WHERE EXISTS (SELECT 1 FROM ${this.#q}.caretaker_runs r WHERE r.id = u.run_id)
        ON CONFLICT (run_id) DO UPDATE SET lines = excluded.lines, dropped = excluded.dropped, updated_at = excluded.updated_at`,
      [batch.map((l) => l.runId), batch.map((l) => JSON.stringify(toJsonb(linesToJson(l.lines)))), batch.map((l) => l.dropped), batch.map((l) => l.updatedAt.getTime())],
    );
  }

  async getRunLog(runId: string): Promise<RunLog | null> {
    if (!storableText(runId)) return null;
    const [row] = await this.#query<RunLogRow>(`SELECT * FROM ${this.#q}.caretaker_run_logs WHERE run_id = $1`, [runId]);
    return row === undefined ? null : runLogFromRow(row, fromJsonb);
  }

  async recordAudit(entry: AuditEntry): Promise<void> {
    await this.#query(`INSERT INTO ${this.#q}.caretaker_audit (id, at, actor, source, action, task, run_id, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)`, [
      entry.id,
      entry.at.getTime(),
      // Text columns cannot hold NUL: shown as U+FFFD rather than losing the record.
      text(entry.actor),
      text(entry.source),
      text(entry.action),
      entry.task === null ? null : text(entry.task),
      entry.runId === null ? null : text(entry.runId),
      entry.detail === null ? null : JSON.stringify(toJsonb(entry.detail)),
    ]);
  }

  async listAudit(query: AuditQuery): Promise<AuditPage> {
    const q = normaliseAuditQuery(query);
    // No stored task name contains NUL (PostgreSQL text cannot): nothing matches.
    if (q.task !== null && !storableText(q.task)) return { entries: [], nextCursor: null };
    const where: string[] = [];
    const values: unknown[] = [];
    if (q.before !== null) {
      values.push(q.before);
      where.push(`id < $${values.length}`);
    }
    if (q.task !== null) {
      values.push(q.task);
      where.push(`task = $${values.length}`);
    }
    values.push(q.limit + 1);
    const text = `SELECT * FROM ${this.#q}.caretaker_audit${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${values.length}`;
    const rows = await this.#query<AuditRow>(text, values);
    const entries = rows.slice(0, q.limit).map((r) => auditFromRow(r, fromJsonb));
    return { entries, nextCursor: rows.length > q.limit ? (entries.at(-1)?.id ?? null) : null };
  }

  async scheduleRetry(runId: string, retryAt: number): Promise<void> {
    await this.#query(
      `UPDATE ${this.#q}.caretaker_runs r SET retry_at = $1 WHERE r.id = $2 AND r.status <> 'running' AND NOT EXISTS (
        SELECT 1 FROM ${this.#q}.caretaker_runs s WHERE s.task = r.task AND s.slot = r.slot AND s.attempt = r.attempt + 1)`,
      [retryAt, runId],
    );
  }

  async prune(policy: RetentionPolicy, now: number, batchSize: number): Promise<number> {
    const olderThan = Number.isFinite(policy.maxAgeMs) ? now - policy.maxAgeMs : -1e300;
    await this.#query(`DELETE FROM ${this.#q}.caretaker_notifications WHERE status <> 'pending' AND created_at < $1::float8`, [olderThan]);
    await this.#query(`DELETE FROM ${this.#q}.caretaker_backfills WHERE ended_at < $1::float8`, [olderThan]);
    const [row] = await this.#query<{ n: number }>(`SELECT ${this.#q}.caretaker_prune($1, $2, $3) AS n, ${this.#q}.caretaker_prune_instances($4) AS gone`, [
      policy.maxPerTask,
      olderThan,
      batchSize,
      now - INSTANCE_RETENTION_MS,
    ]);
    return row?.n ?? 0;
  }

  async retireInstance(instance: string, now: number): Promise<void> {
    if (!storableText(instance)) return;
    await this.#query(`SELECT ${this.#q}.caretaker_retire($1, $2)`, [instance, now]);
  }

  async listInstances(): Promise<InstanceState[]> {
    return (await this.#query<InstanceRow & { tasks: string[] }>(`SELECT * FROM ${this.#q}.caretaker_instances ORDER BY name`)).map(instanceFromRow);
  }

  subscribe(listener: (signal: StoreSignal) => void): () => void {
    this.#listeners.add(listener);
    if (this.#listener === null && this.#pool !== null) {
      this.#listener = new Listener(this.#pool, this.#schema, (signal) => {
        for (const l of [...this.#listeners]) l(signal);
      });
      this.#listener.start();
    }
    return () => this.#listeners.delete(listener);
  }
}

interface RegisteredState {
  readonly task: {
    readonly name: string;
    readonly schedule_key: string;
    readonly anchor: number | null;
    readonly since: number;
    readonly last_tick: number | null;
    readonly paused: boolean;
    readonly pause_note?: string | null;
    readonly paused_at?: number | string | null;
  };
  readonly lastRun: RunRow | null;
  readonly lastSuccess: RunRow | null;
}

function taskState(s: RegisteredState): TaskState {
  return {
    name: s.task.name,
    scheduleKey: s.task.schedule_key,
    anchor: s.task.anchor === null ? null : Number(s.task.anchor),
    since: Number(s.task.since),
    lastTick: s.task.last_tick === null ? null : Number(s.task.last_tick),
    paused: s.task.paused,
    pauseNote: s.task.pause_note ?? null,
    pausedAt: s.task.paused_at == null ? null : Number(s.task.paused_at),
    lastRun: s.lastRun === null ? null : toRun(s.lastRun),
    lastSuccess: s.lastSuccess === null ? null : toLastSuccess(s.lastSuccess),
  };
}

type WireOutcome =
  | { readonly kind: 'started'; readonly run: RunRow; readonly lastSuccess: RunRow | null; readonly replaced: string[] }
  | { readonly kind: 'skipped'; readonly run: RunRow }
  | { readonly kind: 'queued' | 'taken' | 'busy' };

function claimOutcome(o: WireOutcome): ClaimOutcome {
  switch (o.kind) {
    case 'started': {
      const lastSuccess: LastSuccess | null = o.lastSuccess === null ? null : toLastSuccess(o.lastSuccess);
      return { kind: 'started', run: toRun(o.run), lastSuccess, replaced: o.replaced };
    }
    case 'skipped':
      return { kind: 'skipped', run: toRun(o.run) };
    default:
      return { kind: o.kind };
  }
}

/** JSON of the outputs in one finishMany statement, at most (one end may exceed it alone). */
const MAX_FINISH_BYTES = 4 * 1024 * 1024;

/**
 * A PostgreSQL array literal of JSON texts. The driver escapes array elements with a regular
 * expression per element, which took seconds (blocking the event loop) for a thousand 64 KB
 * outputs. Inside an element's double quotes only `"` and `\` need a backslash, and in text that
 * JSON.stringify produced (no raw control characters, no lone surrogates) those are the only
 * characters JSON.stringify escapes again: so quoting it is one native call, twenty times faster.
 */
function jsonArrayLiteral(texts: readonly (string | null)[]): string {
  return `{${texts.map((t) => (t === null ? 'NULL' : JSON.stringify(t))).join(',')}}`;
}

/** One statement, on the pool or on a transaction's connection. */
type Query = <T extends object>(text: string, values?: unknown[]) => Promise<T[]>;

/** What caretaker_finish_many returns: the recorded positions (1-based) and their columns; `n` null when none was. */
interface FinishedColumns {
  readonly n: number[] | null;
  readonly task: string[];
  readonly slot: string[];
  readonly attempt: number[];
  readonly trg: string[];
  readonly scheduled_for: string[];
  readonly due_at: string[];
  readonly instance: (string | null)[];
  readonly skipped_ticks: number[];
  readonly progress: (RunRow['progress'] | null)[];
  readonly caused_by: (string | null)[];
  readonly queued: QueuedTick[] | null;
}

type WireFinish = { readonly kind: 'fenced' } | { readonly kind: 'recorded'; readonly run: RunRow; readonly queued: QueuedTick | null };

interface WirePoll {
  readonly triggers: TriggerRow[];
  readonly cancels: string[];
  readonly paused: { task: string; paused: boolean; note?: string | null; pausedAt?: number | string | null; overrides?: unknown; version?: number | string }[];
  readonly pauseVersion: number | string;
  readonly interrupted: RunRow[];
  readonly retries: { task: string; slot: string; attempt: number; scheduledFor: number; retryAt: number; previousRunId: string }[];
  readonly queued: QueuedTick[];
}
