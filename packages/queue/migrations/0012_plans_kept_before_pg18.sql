-- Up Migration

-- Before PostgreSQL 18 a SQL-language function that is not inlined is parsed and planned again
-- on every call from a prepared statement (and once per transaction from plpgsql); 18 caches
-- those plans. plpgsql keeps its plans for the session on every version. Measured from node
-- with 5 ms between calls, p50 of 150–200 each:
--
-- * imgkit_head_rank (has sub-selects, so never inlined), called by every enqueue without a
--   fair key and, through imgkit_fair_rank, by every enqueue inside a transaction: on
--   PostgreSQL 15 an enqueue took 1.24 ms, 0.88 ms with this version; on 18 the two measure
--   the same, so it is plpgsql everywhere.
-- * imgkit_pick_tasks (its SET options keep it from being inlined), called by every claim:
--   on 15 a claim of one task took 1.02 ms, 0.84 ms in plpgsql; on 18, 0.69 ms against
--   0.74 ms (RETURN QUERY collects the rows first). So plpgsql only before 18. Its query is
--   the same, under the same SET options, so its plan is forced as before (the claim test
--   checks the generic plan on whichever server runs the tests).
CREATE OR REPLACE FUNCTION imgkit_head_rank() RETURNS bigint
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  RETURN coalesce(
    (SELECT fair_rank FROM tasks WHERE status = 'pending' ORDER BY priority DESC, fair_rank, run_at, id LIMIT 1),
    (SELECT max(next_rank) - 1 FROM task_fair_counters),
    0);
END
$$;

DO $migration$
BEGIN
  IF current_setting('server_version_num')::int < 180000 THEN
    CREATE OR REPLACE FUNCTION imgkit_pick_tasks(max_tasks integer, kinds text[])
    RETURNS SETOF text
    LANGUAGE plpgsql
    ROWS 10
    SET enable_sort = off
    SET enable_bitmapscan = off
    SET enable_seqscan = off
    SET enable_hashjoin = off
    SET enable_mergejoin = off
    AS $$
    BEGIN
      RETURN QUERY
      SELECT t.id::text FROM tasks t
      WHERE t.status = 'pending' AND t.run_at <= now() AND t.kind = ANY(kinds)
      ORDER BY t.priority DESC, t.fair_rank, t.run_at, t.id
      LIMIT max_tasks
      FOR UPDATE SKIP LOCKED;
    END
    $$;
  END IF;
END
$migration$;

-- Down Migration
CREATE OR REPLACE FUNCTION imgkit_head_rank() RETURNS bigint
LANGUAGE sql STABLE
AS $$
  SELECT coalesce(
    (SELECT fair_rank FROM tasks WHERE status = 'pending' ORDER BY priority DESC, fair_rank, run_at, id LIMIT 1),
    (SELECT max(next_rank) - 1 FROM task_fair_counters),
    0)
$$;
CREATE OR REPLACE FUNCTION imgkit_pick_tasks(max_tasks integer, kinds text[])
RETURNS SETOF text
LANGUAGE sql
ROWS 10
SET enable_sort = off
SET enable_bitmapscan = off
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
  SELECT id FROM tasks
  WHERE status = 'pending' AND run_at <= now() AND kind = ANY(kinds)
  ORDER BY priority DESC, fair_rank, run_at, id
  LIMIT max_tasks
  FOR UPDATE SKIP LOCKED
$$;
