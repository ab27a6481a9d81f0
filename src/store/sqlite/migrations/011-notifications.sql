-- Caretaker on SQLite, schema version 11. Alerts: one row per event and channel (unique, so each
-- event is recorded once however many replicas saw it), claimed by one instance per attempt.
CREATE TABLE caretaker_notifications (
  id               TEXT PRIMARY KEY,
  event_id         TEXT NOT NULL,
  channel          TEXT NOT NULL,
  kind             TEXT NOT NULL,
  task             TEXT NOT NULL,
  event            TEXT,
  status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  next_attempt_at  INTEGER,
  claimed_by       TEXT,
  claim_expires_at INTEGER,
  last_error       TEXT,
  created_at       INTEGER NOT NULL,
  delivered_at     INTEGER,
  UNIQUE (event_id, channel)
);
CREATE INDEX caretaker_notifications_due ON caretaker_notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX caretaker_notifications_by_task ON caretaker_notifications (task, id);
