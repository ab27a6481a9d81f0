-- Caretaker on PostgreSQL, schema version 6. A pause keeps its note and when it was paused; both
-- travel with the paused flag to every instance's poll. Changes people make are recorded.

ALTER TABLE caretaker_tasks ADD COLUMN pause_note text, ADD COLUMN paused_at bigint;

-- As in version 1, keeping the note and the time: pausing a paused task again replaces its note
-- (not when it was paused); resuming clears both. Any change reaches the polls and wakes them.
DROP FUNCTION caretaker_set_paused(text, boolean);
CREATE FUNCTION caretaker_set_paused(task_name text, pause boolean, note text, now bigint) RETURNS boolean
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM caretaker_tasks WHERE name = task_name) THEN
    RETURN false;
  END IF;
  UPDATE caretaker_tasks SET paused = pause,
      pause_note = CASE WHEN pause THEN note END,
      paused_at = CASE WHEN NOT pause THEN NULL WHEN paused THEN paused_at ELSE now END,
      pause_version = nextval('caretaker_pause_version')
    WHERE name = task_name AND (paused <> pause OR pause_note IS DISTINCT FROM (CASE WHEN pause THEN note END));
  IF FOUND THEN
    PERFORM caretaker_notify('pause');
  END IF;
  RETURN true;
END;
$$;

-- The version-5 signature, for replicas still running the previous release during a rolling
-- upgrade: their pause and resume keep working (without a note).
CREATE FUNCTION caretaker_set_paused(task_name text, pause boolean) RETURNS boolean
LANGUAGE sql SET search_path FROM CURRENT AS $$
  SELECT caretaker_set_paused(task_name, pause, NULL, (extract(epoch FROM clock_timestamp()) * 1000)::bigint);
$$;

-- As in version 4, with each pause change's note and time.
CREATE OR REPLACE FUNCTION caretaker_poll(instance_name text, now bigint, since_pause_version bigint, retries_before bigint, held text[]) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  handed_over jsonb;
  reaped jsonb;
BEGIN
  -- Queued ticks whose runner went away (task rows first: the lock order).
  WITH handed AS (
    UPDATE caretaker_tasks t SET queued = NULL FROM (
      SELECT name, queued AS tick FROM caretaker_tasks c WHERE c.queued IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM caretaker_runs r WHERE r.task = c.name AND r.status = 'running' AND r.lease_expires_at > now)
      FOR UPDATE SKIP LOCKED
    ) q WHERE t.name = q.name RETURNING q.tick
  ) SELECT coalesce(jsonb_agg(tick), '[]') INTO handed_over FROM handed;
  -- Runs whose owner stopped renewing: interrupted exactly once (SKIP LOCKED: one poller wins).
  -- The caller's own held runs are spared: it is alive and records their end itself.
  WITH expired AS (
    UPDATE caretaker_runs r SET status = 'interrupted', finished_at = r.lease_expires_at, lease_expires_at = NULL,
        error = jsonb_build_object('message', 'lease expired: instance ' || coalesce(r.instance, '(unknown)') || ' stopped renewing it',
          'name', 'LeaseExpiredError', 'code', 'ERR_LEASE_LOST', 'stack', NULL)
      WHERE r.id IN (SELECT id FROM caretaker_runs WHERE status = 'running' AND lease_expires_at <= now
        AND NOT (id = ANY (held)) FOR UPDATE SKIP LOCKED)
      RETURNING r.*
  ) SELECT coalesce(jsonb_agg(to_jsonb(e)), '[]') INTO reaped FROM expired e;
  RETURN jsonb_build_object(
    'triggers', (SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.requested_at), '[]') FROM caretaker_triggers t),
    'cancels', (SELECT coalesce(jsonb_agg(id), '[]') FROM caretaker_runs
      WHERE status = 'running' AND instance = instance_name AND cancel_requested),
    'paused', (SELECT coalesce(jsonb_agg(jsonb_build_object('task', name, 'paused', paused, 'note', pause_note, 'pausedAt', paused_at)), '[]')
      FROM caretaker_tasks WHERE pause_version > since_pause_version),
    'pauseVersion', (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM caretaker_pause_version),
    'interrupted', reaped,
    'retries', (SELECT coalesce(jsonb_agg(jsonb_build_object('task', r.task, 'slot', r.slot, 'attempt', r.attempt + 1,
        'scheduledFor', r.scheduled_for, 'retryAt', r.retry_at, 'previousRunId', r.id)), '[]')
      FROM caretaker_runs r WHERE r.retry_at IS NOT NULL AND r.retry_at <= retries_before AND NOT EXISTS (
        SELECT 1 FROM caretaker_runs s WHERE s.task = r.task AND s.slot = r.slot AND s.attempt = r.attempt + 1)),
    'queued', handed_over);
END;
$$;

-- Who changed what: one row per accepted mutation from the API or the CLI, newest first by id
-- (UUIDv7).
CREATE TABLE caretaker_audit (
  id      text PRIMARY KEY,
  at      bigint NOT NULL,
  actor   text NOT NULL,
  source  text NOT NULL,
  action  text NOT NULL,
  task    text,
  run_id  text,
  detail  jsonb
);
CREATE INDEX caretaker_audit_by_task ON caretaker_audit (task, id);
