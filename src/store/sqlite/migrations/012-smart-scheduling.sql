-- Caretaker on SQLite, schema version 12. Smart scheduling: a claimed run may end skipped (its
-- `when` condition said no, or its `defer` ran out of time), with its reason; how long a run was
-- held for quiet time is kept apart from its lateness; `after` reads a task's ends by end time.
ALTER TABLE caretaker_runs ADD COLUMN deferred_ms REAL;
CREATE INDEX caretaker_runs_task_finished ON caretaker_runs (task, finished_at) WHERE finished_at IS NOT NULL;
