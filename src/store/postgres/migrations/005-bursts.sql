-- Schema version 5: many tasks due at one instant (decision 025).
-- Instances name their task set by a digest, so replicas running the same tasks find each other
-- as peers and share a burst; plain tick claims and run ends are written set-based; a renewal
-- never shortens a lease (a claim made ahead of its start holds past it).

ALTER TABLE caretaker_instances ADD COLUMN tasks_digest text NOT NULL DEFAULT '';

-- A lease renewal changes no indexed column, so it can update the row in place (a HOT update:
-- no new index entries), with room left in each page for it: renewing a burst's runs wrote
-- every index of every run again.
DROP INDEX caretaker_runs_running;
CREATE INDEX caretaker_runs_running ON caretaker_runs (task) WHERE status = 'running';
ALTER TABLE caretaker_runs SET (fillfactor = 80);

DROP FUNCTION caretaker_beat(text, bigint, bigint, jsonb, text);

-- As in version 3, storing the task set's digest along with its names.
CREATE FUNCTION caretaker_beat(instance_name text, now bigint, poll_ms bigint, task_names jsonb, token text, digest text) RETURNS boolean
LANGUAGE sql SET search_path FROM CURRENT AS $$
  INSERT INTO caretaker_instances AS i (name, started_at, seen_at, poll_interval_ms, tasks, tasks_token, tasks_digest)
    VALUES (instance_name, now, now, poll_ms, coalesce(task_names, '[]'), CASE WHEN task_names IS NULL THEN '' ELSE token END,
      CASE WHEN task_names IS NULL THEN '' ELSE digest END)
  ON CONFLICT (name) DO UPDATE SET seen_at = now, poll_interval_ms = poll_ms,
    tasks = coalesce(task_names, i.tasks),
    tasks_token = CASE WHEN task_names IS NULL THEN i.tasks_token ELSE token END,
    tasks_digest = CASE WHEN task_names IS NULL THEN i.tasks_digest ELSE digest END,
    started_at = CASE WHEN i.stopped_at IS NULL THEN i.started_at ELSE now END,
    stopped_at = NULL
  RETURNING tasks_token = token;
$$;

-- The live instances (seen within 3 of their poll intervals, not stopped) that run the same task
-- set as this one, this one included, by name.
CREATE FUNCTION caretaker_peers(instance_name text, now bigint) RETURNS text[]
LANGUAGE sql SET search_path FROM CURRENT AS $$
  SELECT coalesce(array_agg(p.name ORDER BY p.name), '{}')
    FROM caretaker_instances me JOIN caretaker_instances p ON p.tasks_digest = me.tasks_digest
    WHERE me.name = instance_name AND me.tasks_digest <> '' AND p.stopped_at IS NULL
      AND p.seen_at + 3 * p.poll_interval_ms >= now;
$$;

-- Of the given slots, the (1-based) positions that nothing has claimed yet. Reads only.
CREATE FUNCTION caretaker_unclaimed(task_names text[], slots text[], attempts integer[]) RETURNS integer[]
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
  SELECT coalesce(array_agg(x.n::integer ORDER BY x.n), '{}')
    FROM unnest(task_names, slots, attempts) WITH ORDINALITY AS x(task, slot, attempt, n)
    WHERE NOT EXISTS (SELECT 1 FROM caretaker_runs r WHERE r.task = x.task AND r.slot = x.slot AND r.attempt = x.attempt);
$$;

-- Claims the first attempts of scheduled ticks with overlap skip or allow, one per task, as
-- caretaker_claim would claim each: task rows are locked in name order first, then existing
-- slots and live runs are read (a statement after the lock sees every commit before it), and the
-- runs, skip records, fencing counters and cursors are written for the whole batch at once.
-- One row per request: its position, 'started' | 'skipped' | 'taken', the fencing token of a
-- started run and the task's last success.
CREATE FUNCTION caretaker_claim_ticks(run_ids text[], task_names text[], ticks bigint[], due_ats bigint[],
  start_ats double precision[], overlap_modes text[], max_live integer[], lease_ms bigint[], instance_names text[], now bigint)
  RETURNS TABLE (i integer, kind text, fencing bigint, last_success jsonb)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  IF cardinality(task_names) <> (SELECT count(DISTINCT n) FROM unnest(task_names) n) THEN
    RAISE EXCEPTION 'caretaker_claim_ticks takes one claim per task';
  END IF;
  INSERT INTO caretaker_tasks (name, schedule_key, since)
    SELECT n, '', now FROM unnest(task_names) n ORDER BY n ON CONFLICT (name) DO NOTHING;
  PERFORM 1 FROM caretaker_tasks t WHERE t.name = ANY (task_names) ORDER BY t.name FOR UPDATE;
  RETURN QUERY
  WITH req AS (
    SELECT r.* FROM unnest(run_ids, task_names, ticks, due_ats, start_ats, overlap_modes, max_live, lease_ms, instance_names)
      WITH ORDINALITY AS r(run_id, task, tick, due_at, start_at, overlap, live_limit, lease, inst, n)
  ), decided AS (
    SELECT req.*, CASE
        WHEN EXISTS (SELECT 1 FROM caretaker_runs x WHERE x.task = req.task AND x.slot = 't:' || req.tick AND x.attempt = 1) THEN 'taken'
        WHEN (SELECT count(*) FROM caretaker_runs x WHERE x.task = req.task AND x.status = 'running' AND x.lease_expires_at > now)
          >= CASE WHEN req.overlap = 'allow' THEN req.live_limit ELSE 1 END THEN 'skipped'
        ELSE 'started' END AS outcome
      FROM req
  ), touched AS (
    UPDATE caretaker_tasks t SET fencing = t.fencing + CASE WHEN d.outcome = 'started' THEN 1 ELSE 0 END,
        last_run_id = d.run_id, last_tick = greatest(coalesce(t.last_tick, d.tick), d.tick)
      FROM decided d WHERE t.name = d.task AND d.outcome <> 'taken'
      RETURNING t.name, t.fencing, t.last_success_id
  ), inserted AS (
    INSERT INTO caretaker_runs (id, task, slot, attempt, trigger, scheduled_for, due_at, started_at, status, instance,
        skip_reason, skipped_ticks, fencing_token, lease_expires_at)
      SELECT d.run_id, d.task, 't:' || d.tick, 1, 'schedule', d.tick, d.due_at,
          CASE WHEN d.outcome = 'started' THEN greatest(now, d.start_at) END,
          CASE WHEN d.outcome = 'started' THEN 'running' ELSE 'skipped' END, d.inst,
          CASE WHEN d.outcome = 'skipped' THEN 'overlap' END, CASE WHEN d.outcome = 'skipped' THEN 1 ELSE 0 END,
          CASE WHEN d.outcome = 'started' THEN t.fencing END, CASE WHEN d.outcome = 'started' THEN now + d.lease END
        FROM decided d JOIN touched t ON t.name = d.task
      RETURNING 1
  )
  SELECT d.n::integer, d.outcome, CASE WHEN d.outcome = 'started' THEN t.fencing END,
      CASE WHEN d.outcome = 'started' THEN (SELECT jsonb_build_object('id', s.id, 'scheduled_for', s.scheduled_for,
        'finished_at', s.finished_at, 'output', s.output) FROM caretaker_runs s WHERE s.id = t.last_success_id) END
    FROM decided d LEFT JOIN touched t ON t.name = d.task
    ORDER BY d.n;
END;
$$;

-- Records how runs ended, each as caretaker_finish would, in columns (a JSON object per end
-- cost more to parse than the update itself). Task rows are locked in name order, then run rows
-- in id order (the order renewals lock them in: the two never deadlock); a run is recorded only
-- while it runs with the caller's token and its lease holds (or no run of its task started
-- since). Returns one row: the positions recorded, with the columns of each run the caller does
-- not know, and the queued ticks handed over to the caller.
CREATE FUNCTION caretaker_finish_many(run_ids text[], tokens bigint[], statuses text[], started_ats double precision[],
  finished_ats double precision[], outputs jsonb[], errors jsonb[], retry_ats bigint[], progresses jsonb[], take_queued boolean[], now bigint)
  RETURNS TABLE (n integer[], task text[], slot text[], attempt integer[], trg text[], scheduled_for bigint[], due_at bigint[],
    instance text[], skipped_ticks integer[], progress jsonb[], caused_by text[], queued jsonb)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  taking text[];
BEGIN
  PERFORM 1 FROM caretaker_tasks t WHERE t.name IN (SELECT r.task FROM caretaker_runs r WHERE r.id = ANY (run_ids))
    ORDER BY t.name FOR UPDATE;
  PERFORM 1 FROM caretaker_runs r WHERE r.id = ANY (run_ids) ORDER BY r.id FOR UPDATE;
  WITH req AS (
    SELECT * FROM unnest(run_ids, tokens, statuses, started_ats, finished_ats, outputs, errors, retry_ats, progresses, take_queued)
      WITH ORDINALITY AS x(run_id, token, status, started_at, finished_at, output, error, retry_at, progress, take, n)
  ), done AS (
    UPDATE caretaker_runs r SET status = q.status, started_at = q.started_at, finished_at = q.finished_at, output = q.output,
        error = q.error, retry_at = q.retry_at, progress = coalesce(q.progress, r.progress), lease_expires_at = NULL,
        cancel_requested = false
      FROM req q WHERE r.id = q.run_id AND r.status = 'running' AND r.fencing_token = q.token
        AND (r.lease_expires_at > now OR EXISTS (SELECT 1 FROM caretaker_tasks t WHERE t.name = r.task AND t.fencing = r.fencing_token))
      RETURNING q.n, q.take, r.id, r.task, r.slot, r.attempt, r.trigger, r.scheduled_for, r.due_at, r.instance, r.skipped_ticks,
        r.progress, r.caused_by, r.status
  ), tasks AS (
    UPDATE caretaker_tasks t SET last_run_id = a.last_run, last_success_id = coalesce(a.last_success, t.last_success_id)
      -- The last end in the batch of each task wins, as caretaker_finish called for each in turn.
      FROM (SELECT d.task, (array_agg(d.id ORDER BY d.n DESC))[1] AS last_run,
          (array_agg(d.id ORDER BY d.n DESC) FILTER (WHERE d.status = 'succeeded'))[1] AS last_success
        FROM done d GROUP BY d.task) a
      WHERE t.name = a.task
      RETURNING 1
  )
  SELECT array_agg(d.n::integer ORDER BY d.n), array_agg(d.task ORDER BY d.n), array_agg(d.slot ORDER BY d.n),
      array_agg(d.attempt ORDER BY d.n), array_agg(d.trigger ORDER BY d.n), array_agg(d.scheduled_for ORDER BY d.n),
      array_agg(d.due_at ORDER BY d.n), array_agg(d.instance ORDER BY d.n), array_agg(d.skipped_ticks ORDER BY d.n),
      array_agg(d.progress ORDER BY d.n), array_agg(d.caused_by ORDER BY d.n), array_agg(DISTINCT d.task) FILTER (WHERE d.take)
    INTO n, task, slot, attempt, trg, scheduled_for, due_at, instance, skipped_ticks, progress, caused_by, taking
    FROM done d;
  -- Queued ticks of tasks with nothing running any more go to the caller (a statement of its
  -- own: it must see the runs just ended).
  WITH free AS (
    SELECT t.name, t.queued FROM caretaker_tasks t
      WHERE t.name = ANY (coalesce(taking, '{}')) AND t.queued IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM caretaker_runs r WHERE r.task = t.name AND r.status = 'running' AND r.lease_expires_at > now)
  ), cleared AS (
    UPDATE caretaker_tasks t SET queued = NULL FROM free f WHERE t.name = f.name RETURNING f.queued
  )
  SELECT coalesce(jsonb_agg(c.queued), '[]') INTO queued FROM cleared c;
  RETURN NEXT;
END;
$$;

-- As in version 1, except that a renewal never shortens a lease, takes columns, and locks the
-- runs in id order (as caretaker_finish_many does: a renewal and a batch of ends never deadlock).
DROP FUNCTION caretaker_renew(jsonb, bigint, bigint);
CREATE FUNCTION caretaker_renew(run_ids text[], tokens bigint[], lease_ms bigint, now bigint) RETURNS text[]
LANGUAGE sql SET search_path FROM CURRENT AS $$
  WITH wanted AS (
    SELECT * FROM unnest(run_ids, tokens) AS w(id, token)
  ), locked AS (
    SELECT r.id FROM caretaker_runs r JOIN wanted w ON r.id = w.id
      WHERE r.fencing_token = w.token AND r.status = 'running' AND r.lease_expires_at > now
      ORDER BY r.id FOR UPDATE OF r
  ), renewed AS (
    UPDATE caretaker_runs r SET lease_expires_at = greatest(r.lease_expires_at, now + lease_ms) FROM locked l
      WHERE r.id = l.id AND r.status = 'running' AND r.lease_expires_at > now
      RETURNING r.id
  )
  SELECT coalesce(array_agg(w.id), '{}') FROM wanted w WHERE w.id NOT IN (SELECT id FROM renewed);
$$;

-- As in version 4, except that a task row is locked only to change its schedule: a replica
-- joining with 10,000 tasks held every row until its registration committed, and the running
-- replicas' run ends (which lock their task rows) queued behind it — long enough for the next
-- tick of a 1 s task to find the previous run still running and be skipped for overlap.
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
    SELECT * INTO t FROM caretaker_tasks WHERE name = reg.v->>'name';
    IF t.schedule_key <> reg.v->>'scheduleKey' THEN
      -- Rechecked under the row lock: another replica may have re-anchored it meanwhile.
      UPDATE caretaker_tasks SET schedule_key = reg.v->>'scheduleKey', anchor = (reg.v->>'anchor')::bigint, since = now, last_tick = NULL
        WHERE name = t.name AND schedule_key <> reg.v->>'scheduleKey' RETURNING * INTO t;
      IF NOT FOUND THEN
        SELECT * INTO t FROM caretaker_tasks WHERE name = reg.v->>'name';
      END IF;
    END IF;
    state := jsonb_build_object(
      'task', to_jsonb(t),
      'lastRun', (SELECT to_jsonb(r) FROM caretaker_runs r WHERE r.id = t.last_run_id),
      'lastSuccess', (SELECT to_jsonb(r) FROM caretaker_runs r WHERE r.id = t.last_success_id));
    RETURN NEXT;
  END LOOP;
END;
$$;
