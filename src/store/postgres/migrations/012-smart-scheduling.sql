-- Schema version 12. Smart scheduling: a claimed run may end skipped (its `when` condition said
-- no, or its `defer` ran out of time), with its reason; how long a run was held for quiet time is
-- kept apart from its lateness; `after` reads a task's ends by end time.
ALTER TABLE caretaker_runs ADD COLUMN deferred_ms double precision;
CREATE INDEX caretaker_runs_task_finished ON caretaker_runs (task, finished_at) WHERE finished_at IS NOT NULL;

-- As in version 1, and writes the skip reason and the deferral an end may carry (replicas of
-- version 11 send neither: both stay NULL).
CREATE OR REPLACE FUNCTION caretaker_finish(c jsonb, now bigint) RETURNS jsonb
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
      progress = coalesce(nullif(c->'progress', 'null'), progress), lease_expires_at = NULL, cancel_requested = false,
      skip_reason = c->>'skipReason', deferred_ms = (c->>'deferredMs')::double precision
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

-- As in version 5, with a skip reason and a deferral per end. A new overload: replicas of
-- version 11 still call the old one during an upgrade.
CREATE FUNCTION caretaker_finish_many(run_ids text[], tokens bigint[], statuses text[], started_ats double precision[],
  finished_ats double precision[], outputs jsonb[], errors jsonb[], retry_ats bigint[], progresses jsonb[], take_queued boolean[],
  skip_reasons text[], deferred_mss double precision[], now bigint)
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
    SELECT * FROM unnest(run_ids, tokens, statuses, started_ats, finished_ats, outputs, errors, retry_ats, progresses, take_queued,
        skip_reasons, deferred_mss)
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
