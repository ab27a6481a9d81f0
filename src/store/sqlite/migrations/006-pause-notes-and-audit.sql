-- Caretaker on SQLite, schema version 6. A pause keeps its note and when it was paused; both
-- travel with the paused flag to every instance's poll. Changes people make are recorded.
ALTER TABLE caretaker_tasks ADD COLUMN pause_note TEXT;
ALTER TABLE caretaker_tasks ADD COLUMN paused_at INTEGER;

-- Who changed what: one row per accepted mutation from the API or the CLI, newest first by id
-- (UUIDv7). detail is JSON text.
CREATE TABLE caretaker_audit (
  id      TEXT PRIMARY KEY,
  at      INTEGER NOT NULL,
  actor   TEXT NOT NULL,
  source  TEXT NOT NULL,
  action  TEXT NOT NULL,
  task    TEXT,
  run_id  TEXT,
  detail  TEXT
);
CREATE INDEX caretaker_audit_by_task ON caretaker_audit (task, id);
