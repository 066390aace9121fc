-- Up Migration

-- Moved to packages/queue/migrations, which the queue owns and which runs before these.
-- The file stays so that databases that ran it keep a consistent migration history.
SELECT 1;

-- Down Migration
SELECT 1;
