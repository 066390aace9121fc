-- Up Migration

-- Fair claiming across tenants. Each task may carry a fair_key (the account it works for)
-- and gets a fair_rank at enqueue: the next rank of its key, but never below the rank at the
-- head of the queue (the "virtual time"). A key with a backlog of 10,000 holds ranks far
-- ahead; a key that enqueues one task starts at the head and is claimed next. The claim still
-- walks one index in order and stops after LIMIT rows, so fairness costs the claim nothing.
ALTER TABLE tasks ADD COLUMN fair_key text COLLATE "C";
ALTER TABLE tasks ADD COLUMN fair_rank bigint NOT NULL DEFAULT 0;

CREATE TABLE task_fair_counters (
  fair_key text COLLATE "C" PRIMARY KEY,
  next_rank bigint NOT NULL
);

CREATE INDEX tasks_ready_fair ON tasks (priority DESC, fair_rank, run_at, id) WHERE status = 'pending';
DROP INDEX IF EXISTS tasks_ready;

-- The rank a new task of `key` gets (and the counter moved past it); plpgsql, so its plans
-- are cached per session. A task without a key takes the head's rank (imgkit_head_rank).
CREATE FUNCTION imgkit_head_rank() RETURNS bigint
LANGUAGE sql STABLE
AS $$
  SELECT coalesce(
    (SELECT fair_rank FROM tasks WHERE status = 'pending' ORDER BY priority DESC, fair_rank, run_at, id LIMIT 1),
    (SELECT max(next_rank) - 1 FROM task_fair_counters),
    0)
$$;

CREATE FUNCTION imgkit_fair_rank(key text) RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
  head bigint;
  rank bigint;
BEGIN
  head := imgkit_head_rank();
  INSERT INTO task_fair_counters AS c (fair_key, next_rank) VALUES (key, head + 1)
  ON CONFLICT (fair_key) DO UPDATE SET next_rank = greatest(c.next_rank, head) + 1
  RETURNING next_rank - 1 INTO rank;
  RETURN rank;
END
$$;

CREATE OR REPLACE FUNCTION imgkit_claim_tasks(worker text, max_tasks integer, kinds text[], lease_ms float8)
RETURNS SETOF tasks
LANGUAGE sql
SET enable_sort = off
SET enable_bitmapscan = off
SET enable_seqscan = off
AS $$
  WITH picked AS (
    SELECT id FROM tasks
    WHERE status = 'pending' AND run_at <= now() AND kind = ANY(kinds)
    ORDER BY priority DESC, fair_rank, run_at, id
    LIMIT max_tasks
    FOR UPDATE SKIP LOCKED
  )
  UPDATE tasks t
  SET status = 'running', attempts = t.attempts + 1, locked_by = worker,
      locked_until = now() + make_interval(secs => lease_ms / 1000), updated_at = now()
  FROM picked WHERE t.id = picked.id
  RETURNING t.*
$$;

DROP FUNCTION imgkit_enqueue(text, text, jsonb, integer, text);
CREATE FUNCTION imgkit_enqueue(
  task_id text, task_kind text, task_payload jsonb, task_max_attempts integer, task_subject_id text,
  task_fair_key text
) RETURNS text
LANGUAGE sql
AS $$
  INSERT INTO tasks (id, kind, payload, max_attempts, subject_id, fair_key, fair_rank)
  VALUES (task_id, task_kind, task_payload, task_max_attempts, task_subject_id, task_fair_key,
          CASE WHEN task_fair_key IS NULL THEN imgkit_head_rank() ELSE imgkit_fair_rank(task_fair_key) END)
  RETURNING id;
$$;

-- Down Migration
DROP FUNCTION imgkit_enqueue(text, text, jsonb, integer, text, text);
CREATE FUNCTION imgkit_enqueue(
  task_id text, task_kind text, task_payload jsonb, task_max_attempts integer, task_subject_id text
) RETURNS text
LANGUAGE sql
AS $$
  INSERT INTO tasks (id, kind, payload, max_attempts, subject_id)
  VALUES (task_id, task_kind, task_payload, task_max_attempts, task_subject_id)
  RETURNING id;
$$;
CREATE INDEX tasks_ready ON tasks (priority DESC, run_at, id) WHERE status = 'pending';
DROP INDEX tasks_ready_fair;
DROP FUNCTION imgkit_fair_rank(text);
DROP FUNCTION imgkit_head_rank();
DROP TABLE task_fair_counters;
ALTER TABLE tasks DROP COLUMN fair_rank;
ALTER TABLE tasks DROP COLUMN fair_key;
