-- Caretaker on PostgreSQL, schema version 9. A task's run-time overrides (the changed options,
-- who changed them and when) travel with the pause version to every instance's poll.

ALTER TABLE caretaker_tasks ADD COLUMN overrides jsonb;

-- Sets or (with NULL) clears them, in one step: with check_expected, only while they are still
-- `expected` (else 'changed'). Like a pause, the change gets a version, reaches the polls and wakes them.
CREATE FUNCTION caretaker_set_overrides(task_name text, o jsonb, check_expected boolean, expected jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  current jsonb;
  v bigint;
BEGIN
  SELECT overrides INTO current FROM caretaker_tasks WHERE name = task_name FOR UPDATE;
  IF NOT FOUND THEN
    RETURN jsonb_build_object('status', 'unknown');
  END IF;
  IF check_expected AND current IS DISTINCT FROM expected THEN
    RETURN jsonb_build_object('status', 'changed');
  END IF;
  v := nextval('caretaker_pause_version');
  UPDATE caretaker_tasks SET overrides = o, pause_version = v WHERE name = task_name;
  PERFORM caretaker_notify('pause');
  RETURN jsonb_build_object('status', 'set', 'version', v);
END;
$$;

-- As in version 6, with each change's overrides.
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
    'paused', (SELECT coalesce(jsonb_agg(jsonb_build_object('task', name, 'paused', paused, 'note', pause_note, 'pausedAt', paused_at,
        'overrides', overrides, 'version', pause_version)), '[]')
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
