-- Caretaker on SQLite, schema version 1. Append-only: change the schema in a new file.

-- One row per task: its persisted cursor (anchor, last handled tick) and shared flags.
CREATE TABLE caretaker_tasks (
  name            TEXT PRIMARY KEY,
  schedule_key    TEXT NOT NULL,
  anchor          INTEGER,
  since           INTEGER NOT NULL,
  last_tick       INTEGER,
  paused          INTEGER NOT NULL DEFAULT 0,
  pause_version   INTEGER NOT NULL DEFAULT 0,
  fencing         INTEGER NOT NULL DEFAULT 0,
  queued          TEXT,
  last_run_id     TEXT,
  last_success_id TEXT
) STRICT;

-- One row per attempt of a tick, or per tick that did not run. The unique key is the claim:
-- whoever inserts (task, slot, attempt) first runs it.
CREATE TABLE caretaker_runs (
  id               TEXT PRIMARY KEY,
  task             TEXT NOT NULL,
  slot             TEXT NOT NULL,
  attempt          INTEGER NOT NULL,
  trigger          TEXT NOT NULL,
  scheduled_for    INTEGER NOT NULL,
  due_at           INTEGER NOT NULL,
  started_at       REAL,
  finished_at      REAL,
  status           TEXT NOT NULL,
  output           TEXT,
  error            TEXT,
  instance         TEXT,
  skip_reason      TEXT,
  skipped_ticks    INTEGER NOT NULL DEFAULT 0,
  fencing_token    INTEGER,
  progress         TEXT,
  retry_at         INTEGER,
  lease_expires_at INTEGER,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  UNIQUE (task, slot, attempt)
) STRICT;

CREATE INDEX caretaker_runs_by_task ON caretaker_runs (task, id);
CREATE INDEX caretaker_runs_running ON caretaker_runs (task, lease_expires_at) WHERE status = 'running';
CREATE INDEX caretaker_runs_retries ON caretaker_runs (retry_at) WHERE retry_at IS NOT NULL;
CREATE INDEX caretaker_runs_by_tick ON caretaker_runs (scheduled_for);

-- Manual triggers waiting to be claimed by whichever instance runs the task.
CREATE TABLE caretaker_triggers (
  id           TEXT PRIMARY KEY,
  task         TEXT NOT NULL,
  requested_at INTEGER NOT NULL
) STRICT;

-- Global counters (the version of the last pause/resume, so polls read changes only).
CREATE TABLE caretaker_counters (
  name  TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) STRICT;
INSERT INTO caretaker_counters (name, value) VALUES ('pause_version', 0);
