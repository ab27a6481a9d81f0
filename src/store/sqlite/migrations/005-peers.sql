-- Caretaker on SQLite, schema version 5. Instances name their task set by a digest, so replicas
-- running the same tasks find each other as peers and share a burst of due ticks (decision 025).
ALTER TABLE caretaker_instances ADD COLUMN tasks_digest TEXT NOT NULL DEFAULT '';
