-- Up Migration

-- Enqueue as a function, so a producer can create its row and that row's task in one
-- statement (one round trip, atomic without BEGIN/COMMIT): the hot path of POST /v1/images.
-- It does not NOTIFY: every notifying transaction takes a database-wide lock at commit,
-- which serialises busy writers, so such producers send one coalesced NOTIFY after commit
-- (Notifier); a lost one only costs a poll interval.
CREATE OR REPLACE FUNCTION imgkit_enqueue(
  task_id text, task_kind text, task_payload jsonb, task_max_attempts integer, task_subject_id text
) RETURNS text
LANGUAGE sql
AS $$
  INSERT INTO tasks (id, kind, payload, max_attempts, subject_id)
  VALUES (task_id, task_kind, task_payload, task_max_attempts, task_subject_id)
  RETURNING id;
$$;

-- Down Migration
DROP FUNCTION imgkit_enqueue(text, text, jsonb, integer, text);
