-- Up Migration

-- An account's unfinished and failed tasks (GET /v1/tasks/stats, GET /v1/tasks?status=failed:
-- the console's queue page) without reading other accounts' rows or the completed history.
-- Partial: a task gets an entry when enqueued and when claimed; completion adds none.
CREATE INDEX tasks_fair_unfinished ON tasks (fair_key, kind, status)
  WHERE status IN ('pending', 'running', 'failed') AND fair_key IS NOT NULL;

-- Down Migration
DROP INDEX tasks_fair_unfinished;
