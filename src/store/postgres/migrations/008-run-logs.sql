-- Caretaker on PostgreSQL, schema version 8. What is kept of each run's log: its newest lines as
-- one jsonb array, replaced at each flush, deleted with its run.
CREATE TABLE caretaker_run_logs (
  run_id     text PRIMARY KEY REFERENCES caretaker_runs (id) ON DELETE CASCADE,
  lines      jsonb NOT NULL,
  dropped    bigint NOT NULL,
  updated_at bigint NOT NULL
);
