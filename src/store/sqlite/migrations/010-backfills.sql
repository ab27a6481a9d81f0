-- Caretaker on SQLite, schema version 10. Backfills: a past range of a task's schedule run
-- instant by instant (slots `b:<id>:<ms>`); `instants` is the JSON array of what it runs.
CREATE TABLE caretaker_backfills (
  id           TEXT PRIMARY KEY,
  task         TEXT NOT NULL,
  from_ms      INTEGER NOT NULL,
  to_ms        INTEGER NOT NULL,
  instants     TEXT NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('running', 'done', 'cancelled')),
  requested_by TEXT NOT NULL,
  requested_at INTEGER NOT NULL,
  ended_at     INTEGER
);
CREATE INDEX caretaker_backfills_by_task ON caretaker_backfills (task, id);
CREATE INDEX caretaker_backfills_running ON caretaker_backfills (status) WHERE status = 'running';
