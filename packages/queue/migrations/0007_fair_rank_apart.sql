-- Up Migration

-- The fair counters are derived state: after a crash they restart from the head's rank, which is
-- what a new key gets anyway. Unlogged, the statement that moves one commits without waiting for
-- a WAL flush.
ALTER TABLE task_fair_counters SET UNLOGGED;

-- imgkit_enqueue with the rank taken beforehand (its own autocommitted imgkit_fair_rank()), so a
-- producer's insert does not hold the account's counter row across its commit: concurrent
-- creates of one account then share WAL flushes instead of queueing behind each other's. The
-- six-argument form stays for callers inside a transaction (and for processes not yet upgraded).
CREATE FUNCTION imgkit_enqueue(
  task_id text, task_kind text, task_payload jsonb, task_max_attempts integer, task_subject_id text,
  task_fair_key text, task_fair_rank bigint
) RETURNS text
LANGUAGE sql
AS $$
  INSERT INTO tasks (id, kind, payload, max_attempts, subject_id, fair_key, fair_rank)
  VALUES (task_id, task_kind, task_payload, task_max_attempts, task_subject_id, task_fair_key,
          coalesce(task_fair_rank,
                   CASE WHEN task_fair_key IS NULL THEN imgkit_head_rank() ELSE imgkit_fair_rank(task_fair_key) END))
  RETURNING id;
$$;

-- Down Migration
DROP FUNCTION imgkit_enqueue(text, text, jsonb, integer, text, text, bigint);
ALTER TABLE task_fair_counters SET LOGGED;
