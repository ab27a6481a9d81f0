-- Caretaker on PostgreSQL, schema version 1. Append-only: change the schema in a new file.
-- Runs with search_path set to the configured schema; nothing here names a schema, and every
-- function pins that search_path (SET search_path FROM CURRENT).
-- Lock order everywhere: the task row first, then run rows, so replicas never deadlock.
-- Times are Unix milliseconds from the engine's clock (the stores never read a clock).

CREATE TABLE caretaker_tasks (
  name            text PRIMARY KEY,
  schedule_key    text NOT NULL,
  anchor          bigint,
  since           bigint NOT NULL,
  last_tick       bigint,
  paused          boolean NOT NULL DEFAULT false,
  pause_version   bigint NOT NULL DEFAULT 0,
  fencing         bigint NOT NULL DEFAULT 0,
  queued          jsonb,
  last_run_id     text,
  last_success_id text
);

-- One row per attempt of a tick, or per tick that did not run. The unique key is the claim.
CREATE TABLE caretaker_runs (
  id               text PRIMARY KEY,
  task             text NOT NULL,
  slot             text NOT NULL,
  attempt          integer NOT NULL,
  trigger          text NOT NULL,
  scheduled_for    bigint NOT NULL,
  due_at           bigint NOT NULL,
  started_at       double precision,
  finished_at      double precision,
  status           text NOT NULL,
  output           jsonb,
  error            jsonb,
  instance         text,
  skip_reason      text,
  skipped_ticks    integer NOT NULL DEFAULT 0,
  fencing_token    bigint,
  progress         jsonb,
  retry_at         bigint,
  lease_expires_at bigint,
  cancel_requested boolean NOT NULL DEFAULT false,
  UNIQUE (task, slot, attempt)
);
CREATE INDEX caretaker_runs_by_task ON caretaker_runs (task, id);
CREATE INDEX caretaker_runs_running ON caretaker_runs (task, lease_expires_at) WHERE status = 'running';
CREATE INDEX caretaker_runs_retries ON caretaker_runs (retry_at) WHERE retry_at IS NOT NULL;
CREATE INDEX caretaker_runs_by_tick ON caretaker_runs (scheduled_for);

CREATE TABLE caretaker_triggers (
  id           text PRIMARY KEY,
  task         text NOT NULL,
  requested_at bigint NOT NULL
);

CREATE SEQUENCE caretaker_pause_version;

-- Wakes listening replicas (LISTEN "caretaker.<schema>"); the payload says what changed.
CREATE FUNCTION caretaker_notify(what text) RETURNS void
LANGUAGE sql SET search_path FROM CURRENT AS $$
  SELECT pg_notify('caretaker.' || current_schema(), what);
$$;

-- Registers tasks; one result per registration, in order: null for a task stored for the first
-- time, else its state (reset first when its schedule key changed).
CREATE FUNCTION caretaker_register(registrations jsonb, now bigint) RETURNS TABLE (i integer, state jsonb)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  reg record;
  t caretaker_tasks;
BEGIN
  FOR reg IN SELECT e.value AS v, e.ordinality::integer AS n FROM jsonb_array_elements(registrations) WITH ORDINALITY e LOOP
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

-- Inserts a run (or skip record) for a claim and moves the task's cursor; returns the row.
CREATE FUNCTION caretaker_insert_run(req jsonb, started double precision, status text, skip_reason text,
  skipped integer, fencing bigint, lease bigint) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  run caretaker_runs;
  tick bigint := CASE WHEN req->>'slot' LIKE 't:%' THEN substr(req->>'slot', 3)::bigint END;
BEGIN
  INSERT INTO caretaker_runs (id, task, slot, attempt, trigger, scheduled_for, due_at, started_at, status, instance,
      skip_reason, skipped_ticks, fencing_token, lease_expires_at)
    VALUES (req->>'runId', req->>'task', req->>'slot', (req->>'attempt')::integer, req->>'trigger',
      (req->>'scheduledFor')::bigint, (req->>'dueAt')::bigint, started, status, req->>'instance', skip_reason, skipped, fencing, lease)
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

-- Claims slots: one outcome per request, as (i, outcome). Task rows are locked in name order,
-- so concurrent batches from replicas cannot deadlock; the overlap decision is made under that
-- lock, so it holds cluster-wide.
CREATE FUNCTION caretaker_claim(requests jsonb, now bigint) RETURNS TABLE (i integer, outcome jsonb)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  r record;
  req jsonb;
  t caretaker_tasks;
  live text[];
  max_live integer;
  next_fencing bigint;
  last_success jsonb;
  started jsonb;
BEGIN
  FOR r IN SELECT e.value AS v, e.ordinality::integer AS n FROM jsonb_array_elements(requests) WITH ORDINALITY e
      ORDER BY e.value->>'task', e.ordinality LOOP
    req := r.v;
    i := r.n;
    INSERT INTO caretaker_tasks (name, schedule_key, since) VALUES (req->>'task', '', now) ON CONFLICT (name) DO NOTHING;
    SELECT * INTO t FROM caretaker_tasks WHERE name = req->>'task' FOR UPDATE;
    IF EXISTS (SELECT 1 FROM caretaker_runs WHERE task = t.name AND slot = req->>'slot' AND attempt = (req->>'attempt')::integer) THEN
      outcome := '{"kind":"taken"}';
      RETURN NEXT;
      CONTINUE;
    END IF;
    IF req->>'skip' IS NOT NULL THEN
      outcome := jsonb_build_object('kind', 'skipped', 'run',
        caretaker_insert_run(req, NULL, 'skipped', req->>'skip', greatest(1, (req->>'skippedTicks')::integer), NULL, NULL));
      RETURN NEXT;
      CONTINUE;
    END IF;
    SELECT coalesce(array_agg(id ORDER BY id), '{}') INTO live FROM caretaker_runs
      WHERE task = t.name AND status = 'running' AND lease_expires_at > now;
    max_live := CASE WHEN req->>'overlap' IN ('allow', 'wait') THEN (req->>'maxConcurrent')::integer ELSE 1 END;
    IF cardinality(live) >= max_live THEN
      IF req->>'overlap' IN ('skip', 'allow') THEN
        outcome := jsonb_build_object('kind', 'skipped', 'run', caretaker_insert_run(req, NULL, 'skipped', 'overlap', 1, NULL, NULL));
        RETURN NEXT;
        CONTINUE;
      ELSIF req->>'overlap' = 'wait' THEN
        outcome := '{"kind":"busy"}';
        RETURN NEXT;
        CONTINUE;
      ELSIF req->>'overlap' = 'queue' THEN
        IF t.queued IS NOT NULL THEN
          IF t.queued->>'slot' = req->>'slot' THEN
            outcome := '{"kind":"taken"}';
          ELSE
            outcome := jsonb_build_object('kind', 'skipped', 'run', caretaker_insert_run(req, NULL, 'skipped', 'overlap', 1, NULL, NULL));
          END IF;
          RETURN NEXT;
          CONTINUE;
        END IF;
        UPDATE caretaker_tasks SET queued = jsonb_build_object('task', req->>'task', 'runId', req->>'runId', 'slot', req->>'slot',
            'trigger', req->>'trigger', 'scheduledFor', (req->>'scheduledFor')::bigint, 'dueAt', (req->>'dueAt')::bigint)
          WHERE name = t.name;
        IF req->>'slot' LIKE 'm:%' THEN
          DELETE FROM caretaker_triggers WHERE id = substr(req->>'slot', 3);
        END IF;
        outcome := '{"kind":"queued"}';
        RETURN NEXT;
        CONTINUE;
      ELSE -- replace: ask the running ones to stop, and start
        UPDATE caretaker_runs SET cancel_requested = true WHERE id = ANY (live);
        IF cardinality(live) > 0 THEN
          PERFORM caretaker_notify('cancel');
        END IF;
      END IF;
    ELSE
      live := '{}';
    END IF;
    UPDATE caretaker_tasks SET fencing = fencing + 1 WHERE name = t.name RETURNING fencing INTO next_fencing;
    started := caretaker_insert_run(req, greatest(now, (req->>'startAt')::double precision), 'running', NULL, 0,
      next_fencing, now + (req->>'leaseMs')::bigint);
    SELECT to_jsonb(s) INTO last_success FROM caretaker_runs s WHERE s.id = t.last_success_id;
    outcome := jsonb_build_object('kind', 'started', 'run', started, 'lastSuccess', last_success, 'replaced', to_jsonb(live));
    RETURN NEXT;
  END LOOP;
END;
$$;

-- Extends the leases of running runs; returns the ids whose lease was lost.
CREATE FUNCTION caretaker_renew(leases jsonb, lease_ms bigint, now bigint) RETURNS jsonb
LANGUAGE sql SET search_path FROM CURRENT AS $$
  WITH wanted AS (
    SELECT l->>'runId' AS id, (l->>'fencingToken')::bigint AS token FROM jsonb_array_elements(leases) l
  ), renewed AS (
    UPDATE caretaker_runs r SET lease_expires_at = now + lease_ms FROM wanted w
      WHERE r.id = w.id AND r.fencing_token = w.token AND r.status = 'running' AND r.lease_expires_at > now
      RETURNING r.id
  )
  SELECT coalesce(jsonb_agg(w.id), '[]') FROM wanted w WHERE w.id NOT IN (SELECT id FROM renewed);
$$;

-- Records how a run ended, if the caller still holds it; hands over a queued tick when asked.
CREATE FUNCTION caretaker_finish(c jsonb, now bigint) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  run caretaker_runs;
  t caretaker_tasks;
  handed jsonb;
BEGIN
  SELECT * INTO t FROM caretaker_tasks WHERE name = (SELECT task FROM caretaker_runs WHERE id = c->>'runId') FOR UPDATE;
  SELECT * INTO run FROM caretaker_runs WHERE id = c->>'runId' FOR UPDATE;
  IF NOT FOUND OR run.status <> 'running' OR run.fencing_token <> (c->>'fencingToken')::bigint THEN
    RETURN '{"kind":"fenced"}';
  END IF;
  -- A run whose lease lapsed may still finish, unless another run of its task started since.
  IF run.lease_expires_at <= now AND t.fencing <> run.fencing_token THEN
    RETURN '{"kind":"fenced"}';
  END IF;
  UPDATE caretaker_runs SET status = c->>'status', started_at = (c->>'startedAt')::double precision,
      finished_at = (c->>'finishedAt')::double precision, output = nullif(c->'output', 'null'),
      error = nullif(c->'error', 'null'), retry_at = (c->>'retryAt')::bigint,
      progress = coalesce(nullif(c->'progress', 'null'), progress), lease_expires_at = NULL, cancel_requested = false
    WHERE id = run.id RETURNING * INTO run;
  UPDATE caretaker_tasks SET last_run_id = run.id,
      last_success_id = CASE WHEN run.status = 'succeeded' THEN run.id ELSE last_success_id END
    WHERE name = t.name;
  IF (c->>'takeQueued')::boolean AND t.queued IS NOT NULL AND NOT EXISTS (
      SELECT 1 FROM caretaker_runs WHERE task = t.name AND status = 'running' AND lease_expires_at > now) THEN
    handed := t.queued;
    UPDATE caretaker_tasks SET queued = NULL WHERE name = t.name;
  END IF;
  RETURN jsonb_build_object('kind', 'recorded', 'run', to_jsonb(run), 'queued', handed);
END;
$$;

CREATE FUNCTION caretaker_set_paused(task_name text, pause boolean) RETURNS boolean
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM caretaker_tasks WHERE name = task_name) THEN
    RETURN false;
  END IF;
  UPDATE caretaker_tasks SET paused = pause, pause_version = nextval('caretaker_pause_version')
    WHERE name = task_name AND paused <> pause;
  IF FOUND THEN
    PERFORM caretaker_notify('pause');
  END IF;
  RETURN true;
END;
$$;

CREATE FUNCTION caretaker_request_trigger(trigger_id text, task_name text, requested bigint) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  INSERT INTO caretaker_triggers (id, task, requested_at) VALUES (trigger_id, task_name, requested) ON CONFLICT (id) DO NOTHING;
  PERFORM caretaker_notify('trigger');
END;
$$;

CREATE FUNCTION caretaker_request_cancel(run_id text) RETURNS text
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  current_status text;
BEGIN
  SELECT status INTO current_status FROM caretaker_runs WHERE id = run_id;
  IF NOT FOUND THEN
    RETURN 'not-found';
  ELSIF current_status <> 'running' THEN
    RETURN 'not-running';
  END IF;
  UPDATE caretaker_runs SET cancel_requested = true WHERE id = run_id AND status = 'running';
  PERFORM caretaker_notify('cancel');
  RETURN 'requested';
END;
$$;

-- Everything other instances changed since the last poll, in one round trip.
CREATE FUNCTION caretaker_poll(instance_name text, now bigint, since_pause_version bigint, retries_before bigint) RETURNS jsonb
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
  WITH expired AS (
    UPDATE caretaker_runs r SET status = 'interrupted', finished_at = r.lease_expires_at, lease_expires_at = NULL,
        error = jsonb_build_object('message', 'lease expired: instance ' || coalesce(r.instance, '(unknown)') || ' stopped renewing it',
          'name', 'LeaseExpiredError', 'code', 'ERR_LEASE_LOST', 'stack', NULL)
      WHERE r.id IN (SELECT id FROM caretaker_runs WHERE status = 'running' AND lease_expires_at <= now FOR UPDATE SKIP LOCKED)
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

-- Deletes at most batch_size runs the retention policy no longer keeps. Never a running run,
-- one waiting for its retry, or a task's last run or last success.
CREATE FUNCTION caretaker_prune(max_per_task integer, older_than double precision, batch_size integer) RETURNS integer
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
      LIMIT batch_size)
    RETURNING 1
  ) SELECT count(*)::integer FROM doomed;
$$;
