-- Caretaker on SQLite, schema version 9. A task's run-time overrides (JSON: the changed options,
-- who changed them and when) travel with the pause version to every instance's poll.
ALTER TABLE caretaker_tasks ADD COLUMN overrides TEXT;
