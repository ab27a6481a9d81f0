import type { DatabaseSync, StatementSync } from 'node:sqlite';

/**
 * Every statement the SQLite store runs, by name, prepared once per connection. The SQL of the
 * schema lives in the migrations; these only read and write it.
 */
export const SQL = {
  taskGet: 'SELECT * FROM caretaker_tasks WHERE name = ?',
  taskList: 'SELECT * FROM caretaker_tasks ORDER BY name',
  taskInsert: `INSERT INTO caretaker_tasks (name, schedule_key, anchor, since, paused) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (name) DO NOTHING`,
  taskReset: 'UPDATE caretaker_tasks SET schedule_key = ?, anchor = ?, since = ?, last_tick = NULL WHERE name = ?',
  taskTouch: `UPDATE caretaker_tasks SET last_run_id = ?,
    last_tick = CASE WHEN ? IS NULL THEN last_tick ELSE MAX(COALESCE(last_tick, ?), ?) END WHERE name = ?`,
  taskNextFencing: 'UPDATE caretaker_tasks SET fencing = fencing + 1 WHERE name = ? RETURNING fencing',
  taskSetQueued: 'UPDATE caretaker_tasks SET queued = ? WHERE name = ?',
  taskFinished: `UPDATE caretaker_tasks SET last_run_id = ?,
    last_success_id = CASE WHEN ? = 'succeeded' THEN ? ELSE last_success_id END WHERE name = ?`,
  // A run the store no longer has (pruned) is skipped rather than refused by its foreign key.
  runLogSave: `INSERT INTO caretaker_run_logs (run_id, lines, dropped, updated_at) SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM caretaker_runs WHERE id = ?1)
    ON CONFLICT (run_id) DO UPDATE SET lines = excluded.lines, dropped = excluded.dropped, updated_at = excluded.updated_at`,
  runLogGet: 'SELECT * FROM caretaker_run_logs WHERE run_id = ?',
  auditInsert: 'INSERT INTO caretaker_audit (id, at, actor, source, action, task, run_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  taskSetPaused: 'UPDATE caretaker_tasks SET paused = ?, pause_note = ?, paused_at = ?, pause_version = ? WHERE name = ?',
  tasksPausedSince: 'SELECT name, paused, pause_note, paused_at, overrides, pause_version FROM caretaker_tasks WHERE pause_version > ?',
  taskSetOverrides: 'UPDATE caretaker_tasks SET overrides = ?, pause_version = ? WHERE name = ?',
  tasksOverridden: 'SELECT name, overrides, pause_version FROM caretaker_tasks WHERE overrides IS NOT NULL',
  taskOverrides: 'SELECT name, overrides, pause_version FROM caretaker_tasks WHERE name = ? AND overrides IS NOT NULL',
  tasksQueuedIdle: `SELECT name, queued FROM caretaker_tasks t WHERE queued IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM caretaker_runs r WHERE r.task = t.name AND r.status = 'running' AND r.lease_expires_at > ?)`,
  pauseVersionNext: "UPDATE caretaker_counters SET value = value + 1 WHERE name = 'pause_version' RETURNING value",
  pauseVersion: "SELECT value FROM caretaker_counters WHERE name = 'pause_version'",
  runBySlot: 'SELECT id FROM caretaker_runs WHERE task = ? AND slot = ? AND attempt = ?',
  runGet: 'SELECT * FROM caretaker_runs WHERE id = ?',
  runsLiveCount: "SELECT count(*) AS n FROM caretaker_runs WHERE task = ? AND status = 'running' AND lease_expires_at > ?",
  taskLastSuccess: `SELECT s.* FROM caretaker_tasks t JOIN caretaker_runs s ON s.id = t.last_success_id WHERE t.name = ?`,
  runInsert: `INSERT INTO caretaker_runs (id, task, slot, attempt, trigger, scheduled_for, due_at, started_at, status,
    instance, skip_reason, skipped_ticks, fencing_token, lease_expires_at, caused_by)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  runsLive: "SELECT id FROM caretaker_runs WHERE task = ? AND status = 'running' AND lease_expires_at > ?",
  runRequestCancel: "UPDATE caretaker_runs SET cancel_requested = 1 WHERE id = ? AND status = 'running'",
  runRenew: `UPDATE caretaker_runs SET lease_expires_at = MAX(lease_expires_at, ?)
    WHERE id = ? AND fencing_token = ? AND status = 'running' AND lease_expires_at > ?`,
  runFinish: `UPDATE caretaker_runs SET status = ?, started_at = ?, finished_at = ?, output = ?, error = ?, retry_at = ?,
    progress = COALESCE(?, progress), lease_expires_at = NULL, cancel_requested = 0, skip_reason = ?, deferred_ms = ? WHERE id = ?`,
  runProgress: "UPDATE caretaker_runs SET progress = ? WHERE id = ? AND fencing_token = ? AND status = 'running'",
  runsExpired: "SELECT * FROM caretaker_runs WHERE status = 'running' AND lease_expires_at <= ?",
  runInterrupt: `UPDATE caretaker_runs SET status = 'interrupted', finished_at = lease_expires_at, lease_expires_at = NULL,
    error = ? WHERE id = ? AND status = 'running' RETURNING *`,
  runsCancelRequested: "SELECT id FROM caretaker_runs WHERE status = 'running' AND instance = ? AND cancel_requested = 1",
  runsRetryDue: `SELECT * FROM caretaker_runs r WHERE r.retry_at IS NOT NULL AND r.retry_at <= ? AND NOT EXISTS (
    SELECT 1 FROM caretaker_runs s WHERE s.task = r.task AND s.slot = r.slot AND s.attempt = r.attempt + 1)`,
  runScheduleRetry: `UPDATE caretaker_runs SET retry_at = ? WHERE id = ? AND status != 'running' AND NOT EXISTS (
    SELECT 1 FROM caretaker_runs s WHERE s.task = caretaker_runs.task AND s.slot = caretaker_runs.slot
    AND s.attempt = caretaker_runs.attempt + 1)`,
  runPrune: `DELETE FROM caretaker_runs WHERE id IN (
    SELECT id FROM (
      SELECT r.id, r.task, r.slot, r.attempt, r.retry_at, COALESCE(r.finished_at, r.scheduled_for) AS age,
        ROW_NUMBER() OVER (PARTITION BY r.task ORDER BY r.id DESC) AS newest
      FROM caretaker_runs r WHERE r.status != 'running'
    ) c
    WHERE (c.newest > ? OR c.age < ?)
      AND NOT EXISTS (SELECT 1 FROM caretaker_tasks t WHERE t.last_run_id = c.id OR t.last_success_id = c.id)
      AND NOT (c.retry_at IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM caretaker_runs s WHERE s.task = c.task AND s.slot = c.slot AND s.attempt = c.attempt + 1))
      AND NOT (c.slot LIKE 'b:%' AND EXISTS (SELECT 1 FROM caretaker_backfills b
        WHERE b.task = c.task AND substr(c.slot, 1, length(b.id) + 3) = 'b:' || b.id || ':'))
    LIMIT ?)`,
  notificationInsert: `INSERT INTO caretaker_notifications (id, event_id, channel, kind, task, event, status, attempts, next_attempt_at, created_at)
    VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?7, ?7) ON CONFLICT (event_id, channel) DO NOTHING`,
  // ?5: the channels to leave alone, as a JSON array.
  notificationsClaim: `UPDATE caretaker_notifications SET claimed_by = ?1, claim_expires_at = ?2 + ?3, attempts = attempts + 1
    WHERE id IN (SELECT id FROM caretaker_notifications WHERE status = 'pending' AND next_attempt_at <= ?2
      AND (claim_expires_at IS NULL OR claim_expires_at <= ?2) AND channel NOT IN (SELECT value FROM json_each(?5))
      ORDER BY next_attempt_at, id LIMIT ?4) RETURNING *`,
  notificationSettle: `UPDATE caretaker_notifications SET status = ?1, next_attempt_at = ?2, last_error = ?3, delivered_at = ?4,
    claimed_by = CASE WHEN ?1 = 'pending' THEN NULL ELSE claimed_by END, claim_expires_at = NULL, attempts = attempts - ?9
    WHERE event_id = ?5 AND channel = ?6 AND claimed_by = ?7 AND attempts = ?8 AND status = 'pending'`,
  notificationsPrune: "DELETE FROM caretaker_notifications WHERE status != 'pending' AND created_at < ?",
  backfillInsert: `INSERT INTO caretaker_backfills (id, task, from_ms, to_ms, instants, status, requested_by, requested_at)
    VALUES (?, ?, ?, ?, ?, 'running', ?, ?) ON CONFLICT (id) DO NOTHING`,
  backfillGet: 'SELECT * FROM caretaker_backfills WHERE id = ?',
  backfillsRunning: "SELECT id, task, instants FROM caretaker_backfills WHERE status = 'running'",
  backfillsOfTask: 'SELECT * FROM caretaker_backfills WHERE task = ? ORDER BY id DESC LIMIT ?',
  backfillsAll: 'SELECT * FROM caretaker_backfills ORDER BY id DESC LIMIT ?',
  backfillEnd: "UPDATE caretaker_backfills SET status = ?, ended_at = ? WHERE id = ? AND status = 'running'",
  // Slots compare bytewise in SQLite: a backfill's are the range [b:<id>:, b:<id>;).
  backfillAttempts: 'SELECT slot, attempt, status, retry_at FROM caretaker_runs WHERE task = ? AND slot >= ? AND slot < ?',
  backfillClearRetries: "UPDATE caretaker_runs SET retry_at = NULL WHERE task = ? AND slot >= ? AND slot < ? AND retry_at IS NOT NULL AND status != 'running'",
  backfillStatus: 'SELECT status FROM caretaker_backfills WHERE id = ?',
  backfillsPrune: 'DELETE FROM caretaker_backfills WHERE ended_at IS NOT NULL AND ended_at < ?',
  backfillCancelRuns: "UPDATE caretaker_runs SET cancel_requested = 1 WHERE task = ? AND slot >= ? AND slot < ? AND status = 'running'",
  triggerInsert: `INSERT INTO caretaker_triggers (id, task, requested_at, retry_of, retry_scheduled_for, retry_attempt)
    VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
  triggerDelete: 'DELETE FROM caretaker_triggers WHERE id = ?',
  triggersAll: 'SELECT * FROM caretaker_triggers ORDER BY requested_at',
  instanceBeat: `INSERT INTO caretaker_instances AS i (name, started_at, seen_at, poll_interval_ms, tasks, tasks_token, tasks_digest)
    VALUES (?1, ?2, ?2, ?3, COALESCE(?4, '[]'), CASE WHEN ?4 IS NULL THEN '' ELSE ?5 END, CASE WHEN ?4 IS NULL THEN '' ELSE ?6 END)
    ON CONFLICT (name) DO UPDATE SET seen_at = ?2, poll_interval_ms = ?3, tasks = COALESCE(?4, i.tasks),
    tasks_token = CASE WHEN ?4 IS NULL THEN i.tasks_token ELSE ?5 END,
    tasks_digest = CASE WHEN ?4 IS NULL THEN i.tasks_digest ELSE ?6 END,
    started_at = CASE WHEN i.stopped_at IS NULL THEN i.started_at ELSE ?2 END, stopped_at = NULL
    RETURNING tasks_token = ?5 AS current`,
  instancePeers: `SELECT p.name FROM caretaker_instances me JOIN caretaker_instances p ON p.tasks_digest = me.tasks_digest
    WHERE me.name = ?1 AND me.tasks_digest != '' AND p.stopped_at IS NULL AND p.seen_at + 3 * p.poll_interval_ms >= ?2
    ORDER BY p.name`,
  instanceRetire: 'UPDATE caretaker_instances SET stopped_at = ? WHERE name = ?',
  instancesAll: 'SELECT * FROM caretaker_instances ORDER BY name',
  instancesPrune: 'DELETE FROM caretaker_instances WHERE seen_at < ?',
} as const;

export type StatementName = keyof typeof SQL;

/** The prepared statements of one connection. */
export type Statements = Readonly<Record<StatementName, StatementSync>>;

export function prepareStatements(db: DatabaseSync): Statements {
  const out = {} as Record<StatementName, StatementSync>;
  for (const name of Object.keys(SQL) as StatementName[]) out[name] = db.prepare(SQL[name]);
  return out;
}
