-- Caretaker on SQLite, schema version 3. Every instance's poll is also its heartbeat: a client
-- (the CLI) can then tell whether any running instance will take a trigger for a task.
CREATE TABLE caretaker_instances (
  name             TEXT PRIMARY KEY,
  started_at       INTEGER NOT NULL,
  seen_at          INTEGER NOT NULL,
  poll_interval_ms INTEGER NOT NULL,
  tasks            TEXT NOT NULL DEFAULT '[]',
  tasks_token      TEXT NOT NULL DEFAULT '',
  stopped_at       INTEGER
) STRICT;
