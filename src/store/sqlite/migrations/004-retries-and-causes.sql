-- Caretaker on SQLite, schema version 4. A person may ask for a finished run's tick to run again
-- (`retry RUN`): the request is a trigger that names the run, and the new run links to it.
ALTER TABLE caretaker_triggers ADD COLUMN retry_of TEXT;
ALTER TABLE caretaker_triggers ADD COLUMN retry_scheduled_for INTEGER;
ALTER TABLE caretaker_triggers ADD COLUMN retry_attempt INTEGER;
ALTER TABLE caretaker_runs ADD COLUMN caused_by TEXT;
