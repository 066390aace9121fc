-- Up Migration

-- Ranks taken in blocks: a busy producer reserves the next n ranks of a key in one statement
-- and hands them out itself (FairRanks in src/fair-ranks.ts), instead of one round trip per
-- task. The block starts where a single rank would (the key's next rank, never below the head)
-- and the counter moves past all of it.
CREATE FUNCTION imgkit_fair_ranks(key text, n bigint) RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
  head bigint;
  first bigint;
BEGIN
  head := imgkit_head_rank();
  INSERT INTO task_fair_counters AS c (fair_key, next_rank) VALUES (key, head + n)
  ON CONFLICT (fair_key) DO UPDATE SET next_rank = greatest(c.next_rank, head) + n
  RETURNING next_rank - n INTO first;
  RETURN first;
END
$$;

-- Down Migration
DROP FUNCTION imgkit_fair_ranks(text, bigint);
