-- Caretaker on PostgreSQL, schema version 7. A task's charts read its ticks in a time range:
-- GET /api/tasks/:name/stats scans this index instead of every run of the task. Built in the
-- migration's transaction: on a large history, writes to caretaker_runs wait for it once.
CREATE INDEX caretaker_runs_by_task_tick ON caretaker_runs (task, scheduled_for);
