-- Caretaker on SQLite, schema version 6. A pause keeps its note and when it was paused; both
-- travel with the paused flag to every instance's poll.
ALTER TABLE caretaker_tasks ADD COLUMN pause_note TEXT;
ALTER TABLE caretaker_tasks ADD COLUMN paused_at INTEGER;
