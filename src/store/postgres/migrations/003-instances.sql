-- Every instance's poll is also its heartbeat: a client (the CLI) can then tell whether any
-- running instance will take a trigger for a task. The beat rides in the poll's statement.
CREATE TABLE caretaker_instances (
  name             text PRIMARY KEY,
  started_at       bigint NOT NULL,
  seen_at          bigint NOT NULL,
  poll_interval_ms bigint NOT NULL,
  tasks            jsonb NOT NULL DEFAULT '[]',
  tasks_token      text NOT NULL DEFAULT '',
  stopped_at       bigint
);

-- Records a beat; `task_names` is null when the instance's tasks did not change. An instance
-- seen again after it stopped (the same name, restarted) starts anew. Returns whether the stored
-- task list is the one this process sent last (another process of the same name may have
-- replaced it: then it sends its list again).
CREATE FUNCTION caretaker_beat(instance_name text, now bigint, poll_ms bigint, task_names jsonb, token text) RETURNS boolean
LANGUAGE sql SET search_path FROM CURRENT AS $$
  INSERT INTO caretaker_instances AS i (name, started_at, seen_at, poll_interval_ms, tasks, tasks_token)
    VALUES (instance_name, now, now, poll_ms, coalesce(task_names, '[]'), CASE WHEN task_names IS NULL THEN '' ELSE token END)
  ON CONFLICT (name) DO UPDATE SET seen_at = now, poll_interval_ms = poll_ms,
    tasks = coalesce(task_names, i.tasks),
    tasks_token = CASE WHEN task_names IS NULL THEN i.tasks_token ELSE token END,
    started_at = CASE WHEN i.stopped_at IS NULL THEN i.started_at ELSE now END,
    stopped_at = NULL
  RETURNING tasks_token = token;
$$;

CREATE FUNCTION caretaker_retire(instance_name text, now bigint) RETURNS void
LANGUAGE sql SET search_path FROM CURRENT AS $$
  UPDATE caretaker_instances SET stopped_at = now WHERE name = instance_name;
$$;

CREATE FUNCTION caretaker_prune_instances(unseen_since bigint) RETURNS integer
LANGUAGE sql SET search_path FROM CURRENT AS $$
  WITH gone AS (DELETE FROM caretaker_instances WHERE seen_at < unseen_since RETURNING 1)
  SELECT count(*)::integer FROM gone;
$$;
