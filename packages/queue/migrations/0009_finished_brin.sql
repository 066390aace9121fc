-- Up Migration

-- Completing a task inserted an entry into a B-tree on finished_at, read only by the pruning of
-- finished tasks: a tenth of PostgreSQL's CPU per task in bench/queue. A BRIN index keeps one
-- summary per range of pages instead, which an insert into an unsummarized range (where new row
-- versions go) does not touch at all; pruning reads the ranges that may hold old rows. Tasks
-- finish roughly in the order their rows are written, so few ranges qualify.
CREATE INDEX tasks_finished_brin ON tasks USING brin (finished_at)
  WITH (pages_per_range = 16, autosummarize = on);
DROP INDEX tasks_finished;

-- Down Migration
CREATE INDEX tasks_finished ON tasks (finished_at) WHERE status IN ('completed', 'failed');
DROP INDEX tasks_finished_brin;
