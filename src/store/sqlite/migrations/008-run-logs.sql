-- Caretaker on SQLite, schema version 8. What is kept of each run's log: its newest lines as one
-- JSON array, replaced at each flush, deleted with its run.
CREATE TABLE caretaker_run_logs (
  run_id     TEXT PRIMARY KEY REFERENCES caretaker_runs (id) ON DELETE CASCADE,
  lines      TEXT NOT NULL,
  dropped    INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
