-- Up Migration

-- The claim function is planned once per session with a generic plan, in which LIMIT
-- max_tasks is unknown and estimated at a tenth of the ready rows. With current statistics on
-- a table of some thousands of ready tasks, that estimate made the planner join the picked
-- ids back to `tasks` with a hash join that reads every row of the table through its primary
-- key: 10 ms per claim at 20,000 ready tasks, 170 claims of 2 a second (measured by bench/scale,
-- "the claim with a deep queue"). A claim updates at most a few dozen rows, which a nested
-- loop over the primary key does in microseconds, so the other joins are switched off too.
CREATE OR REPLACE FUNCTION imgkit_claim_tasks(worker text, max_tasks integer, kinds text[], lease_ms float8)
RETURNS SETOF tasks
LANGUAGE sql
SET enable_sort = off
SET enable_bitmapscan = off
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
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

-- Down Migration
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
