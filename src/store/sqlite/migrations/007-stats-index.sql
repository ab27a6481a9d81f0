-- Caretaker on SQLite, schema version 7. A task's charts read its ticks in a time range:
-- GET /api/tasks/:name/stats scans this index instead of every run of the task. It takes the
-- place of the index on scheduled_for alone, which no query used (history pages go by id).
DROP INDEX caretaker_runs_by_tick;
CREATE INDEX caretaker_runs_by_task_tick ON caretaker_runs (task, scheduled_for);
