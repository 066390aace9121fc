-- Up Migration

-- The queue owns this table. Statements are idempotent because databases created
-- before the queue had its own migrations got the same table from the application's
-- 001_foundation; on those this migration only records that the queue is in place.
CREATE TABLE IF NOT EXISTS tasks (
  id text COLLATE "C" PRIMARY KEY CHECK (id ~ '^tsk_[0-9A-Za-z]{27}$'),
  kind text NOT NULL,
  payload jsonb NOT NULL DEFAULT '{}',
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'completed', 'failed')),
  priority smallint NOT NULL DEFAULT 0,
  run_at timestamptz NOT NULL DEFAULT now(),
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL DEFAULT 10 CHECK (max_attempts >= 1),
  locked_by text,
  locked_until timestamptz,
  dedupe_key text,
  -- The row this task works on (an image, a job, a webhook message), so deleting it can cancel its tasks.
  subject_id text COLLATE "C",
  last_error jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
-- The claim walks this index in order and stops after LIMIT rows.
CREATE INDEX IF NOT EXISTS tasks_ready ON tasks (priority DESC, run_at, id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS tasks_subject ON tasks (subject_id) WHERE subject_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS tasks_leases ON tasks (locked_until) WHERE status = 'running';
CREATE INDEX IF NOT EXISTS tasks_finished ON tasks (finished_at) WHERE status IN ('completed', 'failed');
-- At most one unfinished task per dedupe key.
CREATE UNIQUE INDEX IF NOT EXISTS tasks_dedupe ON tasks (dedupe_key)
  WHERE dedupe_key IS NOT NULL AND status IN ('pending', 'running');

-- Down Migration
DROP TABLE tasks;
