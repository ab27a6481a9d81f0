-- Caretaker on PostgreSQL, schema version 10. Backfills: a past range of a task's schedule run
-- instant by instant (slots `b:<id>:<ms>`); `instants` holds what it runs, ascending.
CREATE TABLE caretaker_backfills (
  id           text PRIMARY KEY,
  task         text NOT NULL,
  from_ms      bigint NOT NULL,
  to_ms        bigint NOT NULL,
  instants     bigint[] NOT NULL,
  status       text NOT NULL CHECK (status IN ('running', 'done', 'cancelled')),
  requested_by text NOT NULL,
  requested_at bigint NOT NULL,
  ended_at     bigint
);
CREATE INDEX caretaker_backfills_by_task ON caretaker_backfills (task, id);
CREATE INDEX caretaker_backfills_running ON caretaker_backfills (status) WHERE status = 'running';

CREATE FUNCTION caretaker_request_backfill(b_id text, b_task text, b_from bigint, b_to bigint, b_instants bigint[], b_by text, b_at bigint) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  INSERT INTO caretaker_backfills (id, task, from_ms, to_ms, instants, status, requested_by, requested_at)
    VALUES (b_id, b_task, b_from, b_to, b_instants, 'running', b_by, b_at) ON CONFLICT (id) DO NOTHING;
  PERFORM caretaker_notify('trigger');
END;
$$;

-- Ends a running backfill: 'cancelled' at once (its running runs are asked to cancel, its pending
-- retries dropped), 'done' only once none of its runs is running or waiting for a retry. Its runs
-- are found by slot, one index lookup per instant, whatever the database's collation.
CREATE FUNCTION caretaker_end_backfill(b_id text, new_status text, now bigint) RETURNS text
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  b caretaker_backfills;
  cancelling boolean;
BEGIN
  SELECT * INTO b FROM caretaker_backfills WHERE id = b_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN 'not-found';
  ELSIF b.status <> 'running' THEN
    RETURN 'not-running';
  END IF;
  IF new_status = 'done' AND EXISTS (
    SELECT 1 FROM unnest(b.instants) AS u(i) JOIN caretaker_runs r ON r.task = b.task AND r.slot = 'b:' || b.id || ':' || u.i
    WHERE r.status = 'running' OR (r.retry_at IS NOT NULL AND NOT EXISTS (
      SELECT 1 FROM caretaker_runs n WHERE n.task = r.task AND n.slot = r.slot AND n.attempt = r.attempt + 1))
  ) THEN
    RETURN 'busy';
  END IF;
  UPDATE caretaker_backfills SET status = new_status, ended_at = now WHERE id = b_id;
  UPDATE caretaker_runs r SET cancel_requested = true FROM unnest(b.instants) AS u(i)
    WHERE r.task = b.task AND r.slot = 'b:' || b.id || ':' || u.i AND r.status = 'running';
  cancelling := FOUND;
  UPDATE caretaker_runs r SET retry_at = NULL FROM unnest(b.instants) AS u(i)
    WHERE r.task = b.task AND r.slot = 'b:' || b.id || ':' || u.i AND r.retry_at IS NOT NULL AND r.status <> 'running';
  PERFORM caretaker_notify(CASE WHEN cancelling THEN 'cancel' ELSE 'trigger' END);
  RETURN 'ended';
END;
$$;

-- As in version 1, keeping the runs of every backfill still recorded (a running one's slots tell
-- every instance which instants have run; an ended one's, its progress); ended backfills go with
-- the history's age.
CREATE OR REPLACE FUNCTION caretaker_prune(max_per_task integer, older_than double precision, batch_size integer) RETURNS integer
LANGUAGE sql SET search_path FROM CURRENT AS $$
  WITH doomed AS (
    DELETE FROM caretaker_runs WHERE id IN (
      SELECT c.id FROM (
        SELECT r.id, r.task, r.slot, r.attempt, r.retry_at, coalesce(r.finished_at, r.scheduled_for) AS age,
          row_number() OVER (PARTITION BY r.task ORDER BY r.id DESC) AS newest
        FROM caretaker_runs r WHERE r.status <> 'running'
      ) c
      WHERE (c.newest > max_per_task OR c.age < older_than)
        AND NOT EXISTS (SELECT 1 FROM caretaker_tasks t WHERE t.last_run_id = c.id OR t.last_success_id = c.id)
        AND NOT (c.retry_at IS NOT NULL AND NOT EXISTS (
          SELECT 1 FROM caretaker_runs s WHERE s.task = c.task AND s.slot = c.slot AND s.attempt = c.attempt + 1))
        AND NOT (c.slot LIKE 'b:%' AND EXISTS (SELECT 1 FROM caretaker_backfills b
          WHERE b.task = c.task AND left(c.slot, length(b.id) + 3) = 'b:' || b.id || ':'))
      LIMIT batch_size)
    RETURNING 1
  ) SELECT count(*)::integer FROM doomed;
$$;
