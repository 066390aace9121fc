-- Up Migration

-- PostgreSQL evaluates every CHECK constraint of a table on every UPDATE of a row, whichever
-- columns change. The pattern on tasks.id therefore ran a regular expression at each claim and
-- each completion, about a tenth of PostgreSQL's CPU per task in bench/queue. A domain's check
-- runs when a value is converted to the domain: when a task is inserted or its id set, never
-- when its status changes. The rule is the same; only when it is checked moves.
-- The change of type rewrites the table and its indexes once, under an exclusive lock: about half
-- a second per 200,000 tasks (measured on PostgreSQL 15), and the table holds only the tasks of
-- TASK_RETENTION_HOURS.
CREATE DOMAIN imgkit_task_id AS text COLLATE "C" CHECK (VALUE ~ '^tsk_[0-9A-Za-z]{27}$');
ALTER TABLE tasks
  DROP CONSTRAINT IF EXISTS tasks_id_check,
  ALTER COLUMN id TYPE imgkit_task_id;

-- Down Migration
ALTER TABLE tasks
  ALTER COLUMN id TYPE text COLLATE "C",
  ADD CONSTRAINT tasks_id_check CHECK (id ~ '^tsk_[0-9A-Za-z]{27}$');
DROP DOMAIN imgkit_task_id;
