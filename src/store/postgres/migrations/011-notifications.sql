-- Caretaker on PostgreSQL, schema version 11. Alerts: one row per event and channel (unique, so
-- each event is recorded once however many replicas saw it), claimed by one instance per attempt.
CREATE TABLE caretaker_notifications (
  id               text PRIMARY KEY,
  event_id         text NOT NULL,
  channel          text NOT NULL,
  kind             text NOT NULL,
  task             text NOT NULL,
  event            jsonb,
  status           text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  bigint,
  claimed_by       text,
  claim_expires_at bigint,
  last_error       text,
  created_at       bigint NOT NULL,
  delivered_at     bigint,
  UNIQUE (event_id, channel)
);
CREATE INDEX caretaker_notifications_due ON caretaker_notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX caretaker_notifications_by_task ON caretaker_notifications (task, id);
