-- Schema version 4.
-- Registration locks task rows in name order, as claims do: in registration order, two replicas
-- registering while another claims could deadlock (seen: a replica failing its start).
-- A skip record that stands for several missed ticks is claimed on its first tick's slot (the
-- same for every replica coming back from one outage) and moves the task's cursor past its
-- newest tick (`throughTick`), so no replica plans those ticks again.
-- A person may ask for a finished run's tick to run again (`retry RUN`): the request is a trigger
-- that names the run, and the new run links to it (`caused_by`).
ALTER TABLE caretaker_triggers ADD COLUMN retry_of text, ADD COLUMN retry_scheduled_for bigint, ADD COLUMN retry_attempt integer;
ALTER TABLE caretaker_runs ADD COLUMN caused_by text;

CREATE OR REPLACE FUNCTION caretaker_insert_run(req jsonb, started double precision, status text, skip_reason text,
  skipped integer, fencing bigint, lease bigint) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  run caretaker_runs;
  tick bigint := CASE WHEN req->>'slot' LIKE 't:%' THEN greatest(substr(req->>'slot', 3)::bigint, (req->>'throughTick')::bigint) END;
BEGIN
  INSERT INTO caretaker_runs (id, task, slot, attempt, trigger, scheduled_for, due_at, started_at, status, instance,
      skip_reason, skipped_ticks, fencing_token, lease_expires_at, caused_by)
    VALUES (req->>'runId', req->>'task', req->>'slot', (req->>'attempt')::integer, req->>'trigger',
      (req->>'scheduledFor')::bigint, (req->>'dueAt')::bigint, started, status, req->>'instance', skip_reason, skipped, fencing, lease,
      req->>'causedBy')
    RETURNING * INTO run;
  UPDATE caretaker_tasks SET last_run_id = run.id,
      last_tick = CASE WHEN tick IS NULL THEN last_tick ELSE greatest(coalesce(last_tick, tick), tick) END
    WHERE name = run.task;
  IF req->>'slot' LIKE 'm:%' THEN
    DELETE FROM caretaker_triggers WHERE id = substr(req->>'slot', 3);
  END IF;
  RETURN to_jsonb(run);
END;
$$;

CREATE FUNCTION caretaker_request_retry(trigger_id text, task_name text, requested bigint, run_id text, scheduled bigint, run_attempt integer) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  INSERT INTO caretaker_triggers (id, task, requested_at, retry_of, retry_scheduled_for, retry_attempt)
    VALUES (trigger_id, task_name, requested, run_id, scheduled, run_attempt) ON CONFLICT (id) DO NOTHING;
  PERFORM caretaker_notify('trigger');
END;
$$;

-- As in version 2, with each pending trigger's retry fields.
DROP FUNCTION caretaker_poll(text, bigint, bigint, bigint, text[]);

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
    'triggers', (SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.requested_at), '[]') FROM caretaker_triggers t),
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

CREATE OR REPLACE FUNCTION caretaker_register(registrations jsonb, now bigint) RETURNS TABLE (i integer, state jsonb)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  reg record;
  t caretaker_tasks;
BEGIN
  FOR reg IN SELECT e.value AS v, e.ordinality::integer AS n FROM jsonb_array_elements(registrations) WITH ORDINALITY e
      ORDER BY e.value->>'name', e.ordinality LOOP
    i := reg.n;
    INSERT INTO caretaker_tasks (name, schedule_key, anchor, since, paused)
      VALUES (reg.v->>'name', reg.v->>'scheduleKey', (reg.v->>'anchor')::bigint, now, (reg.v->>'paused')::boolean)
      ON CONFLICT (name) DO NOTHING;
    IF FOUND THEN
      state := NULL;
      RETURN NEXT;
      CONTINUE;
    END IF;
    SELECT * INTO t FROM caretaker_tasks WHERE name = reg.v->>'name' FOR UPDATE;
    IF t.schedule_key <> reg.v->>'scheduleKey' THEN
      UPDATE caretaker_tasks SET schedule_key = reg.v->>'scheduleKey', anchor = (reg.v->>'anchor')::bigint, since = now, last_tick = NULL
        WHERE name = t.name RETURNING * INTO t;
    END IF;
    state := jsonb_build_object(
      'task', to_jsonb(t),
      'lastRun', (SELECT to_jsonb(r) FROM caretaker_runs r WHERE r.id = t.last_run_id),
      'lastSuccess', (SELECT to_jsonb(r) FROM caretaker_runs r WHERE r.id = t.last_success_id));
    RETURN NEXT;
  END LOOP;
END;
$$;
