-- Schema version 13: the batch functions plan for a few rows (decision 039).
-- PL/pgSQL plans a statement's first calls on a connection for the values passed. Given 1,000
-- run ids, the planner counts 1,000 rows and, with PostgreSQL's default page costs, prefers
-- reading whole tables (every task, every run) to 1,000 lookups by key: a batch of claims took
-- 150-200 ms instead of 40-60, a batch of ends 80-120 instead of 45-50. Each array now goes in
-- through a subquery, whose value the planner cannot see: it assumes a few rows and looks each
-- one up by key, at any table size. Every call is planned again (force_custom_plan), for the
-- tables as they are: a plan kept from the sixth call on, made while the tables were small, took
-- up to a minute per batch once they had grown.

-- The poll asks for its instance's cancel requests on every call; it read every running run to
-- find them (100,000 in a burst). Cancel requests are rare, and a lease renewal changes neither
-- column, so it still updates in place.
CREATE INDEX caretaker_runs_cancel_requested ON caretaker_runs (instance) WHERE cancel_requested AND status = 'running';

-- As in version 5, with the arrays hidden from the planner and every call planned.
-- Claims the first attempts of scheduled ticks with overlap skip or allow, one per task, as
-- caretaker_claim would claim each: task rows are locked in name order first, then existing
-- slots and live runs are read (a statement after the lock sees every commit before it), and the
-- runs, skip records, fencing counters and cursors are written for the whole batch at once.
-- One row per request: its position, 'started' | 'skipped' | 'taken', the fencing token of a
-- started run and the task's last success.
CREATE OR REPLACE FUNCTION caretaker_claim_ticks(run_ids text[], task_names text[], ticks bigint[], due_ats bigint[],
  start_ats double precision[], overlap_modes text[], max_live integer[], lease_ms bigint[], instance_names text[], now bigint)
  RETURNS TABLE (i integer, kind text, fencing bigint, last_success jsonb)
LANGUAGE plpgsql SET search_path FROM CURRENT SET plan_cache_mode = force_custom_plan AS $$
BEGIN
  IF cardinality(task_names) <> (SELECT count(DISTINCT n) FROM unnest(task_names) n) THEN
    RAISE EXCEPTION 'caretaker_claim_ticks takes one claim per task';
  END IF;
  INSERT INTO caretaker_tasks (name, schedule_key, since)
    SELECT n, '', now FROM unnest((SELECT task_names)::text[]) n ORDER BY n ON CONFLICT (name) DO NOTHING;
  PERFORM 1 FROM caretaker_tasks t WHERE t.name = ANY ((SELECT task_names)::text[]) ORDER BY t.name FOR UPDATE;
  RETURN QUERY
  WITH req AS (
    SELECT r.* FROM unnest((SELECT run_ids)::text[], (SELECT task_names)::text[], (SELECT ticks)::bigint[],
        (SELECT due_ats)::bigint[], (SELECT start_ats)::double precision[], (SELECT overlap_modes)::text[],
        (SELECT max_live)::integer[], (SELECT lease_ms)::bigint[], (SELECT instance_names)::text[])
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

-- As in version 12, with the arrays hidden from the planner and every call planned.
CREATE OR REPLACE FUNCTION caretaker_finish_many(run_ids text[], tokens bigint[], statuses text[], started_ats double precision[],
  finished_ats double precision[], outputs jsonb[], errors jsonb[], retry_ats bigint[], progresses jsonb[], take_queued boolean[],
  skip_reasons text[], deferred_mss double precision[], now bigint)
  RETURNS TABLE (n integer[], task text[], slot text[], attempt integer[], trg text[], scheduled_for bigint[], due_at bigint[],
    instance text[], skipped_ticks integer[], progress jsonb[], caused_by text[], queued jsonb)
LANGUAGE plpgsql SET search_path FROM CURRENT SET plan_cache_mode = force_custom_plan AS $$
DECLARE
  taking text[];
BEGIN
  PERFORM 1 FROM caretaker_tasks t WHERE t.name IN (SELECT r.task FROM caretaker_runs r WHERE r.id = ANY ((SELECT run_ids)::text[]))
    ORDER BY t.name FOR UPDATE;
  PERFORM 1 FROM caretaker_runs r WHERE r.id = ANY ((SELECT run_ids)::text[]) ORDER BY r.id FOR UPDATE;
  WITH req AS (
    SELECT * FROM unnest((SELECT run_ids)::text[], (SELECT tokens)::bigint[], (SELECT statuses)::text[],
        (SELECT started_ats)::double precision[], (SELECT finished_ats)::double precision[], (SELECT outputs)::jsonb[],
        (SELECT errors)::jsonb[], (SELECT retry_ats)::bigint[], (SELECT progresses)::jsonb[], (SELECT take_queued)::boolean[],
        (SELECT skip_reasons)::text[], (SELECT deferred_mss)::double precision[])
      WITH ORDINALITY AS x(run_id, token, status, started_at, finished_at, output, error, retry_at, progress, take, skip_reason, deferred_ms, n)
  ), done AS (
    UPDATE caretaker_runs r SET status = q.status, started_at = q.started_at, finished_at = q.finished_at, output = q.output,
        error = q.error, retry_at = q.retry_at, progress = coalesce(q.progress, r.progress), lease_expires_at = NULL,
        cancel_requested = false, skip_reason = q.skip_reason, deferred_ms = q.deferred_ms
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
