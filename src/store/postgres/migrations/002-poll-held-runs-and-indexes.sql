-- A poller spares the runs it still holds (executing, or recording their end): an instance back
-- from a store outage longer than the lease records its runs itself instead of reaping them as
-- if it had died. Other instances still reap them.
DROP FUNCTION caretaker_poll(text, bigint, bigint, bigint);

CREATE FUNCTION caretaker_poll(instance_name text, now bigint, since_pause_version bigint, retries_before bigint, held text[]) RETURNS jsonb
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
    'triggers', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', id, 'task', task, 'requestedAt', requested_at) ORDER BY requested_at), '[]')
      FROM caretaker_triggers),
    'cancels', (SELECT coalesce(jsonb_agg(id), '[]') FROM caretaker_runs
      WHERE status = 'running' AND instance = instance_name AND cancel_requested),
    'paused', (SELECT coalesce(jsonb_agg(jsonb_build_object('task', name, 'paused', paused)), '[]') FROM caretaker_tasks
      WHERE pause_version > since_pause_version),
    'pauseVersion', (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM caretaker_pause_version),
    'interrupted', reaped,
    'retries', (SELECT coalesce(jsonb_agg(jsonb_build_object('task', r.task, 'slot', r.slot, 'attempt', r.attempt + 1,
        'scheduledFor', r.scheduled_for, 'retryAt', r.retry_at, 'previousRunId', r.id)), '[]')
      FROM caretaker_runs r WHERE r.retry_at IS NOT NULL AND r.retry_at <= retries_before AND NOT EXISTS (
        SELECT 1 FROM caretaker_runs s WHERE s.task = r.task AND s.slot = r.slot AND s.attempt = r.attempt + 1)),
    'queued', handed_over);
END;
$$;

-- Every poll asks for tasks whose pause flag changed and for queued ticks: index both, so an
-- idle poll does not scan every task.
CREATE INDEX caretaker_tasks_by_pause_version ON caretaker_tasks (pause_version);
CREATE INDEX caretaker_tasks_queued ON caretaker_tasks (name) WHERE queued IS NOT NULL;
