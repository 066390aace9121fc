-- Up Migration

-- The subject index served one question: which pending tasks work on this row (deleting an
-- image, job or webhook message cancels them: cancelTasksForSubject(s)). It held every task with
-- a subject, so each claim and each completion of such a task — both non-HOT updates — added an
-- entry to it, and it grew with the retained history. Pending tasks only: a task gets an entry
-- when enqueued (or put back to pending) and none afterwards. Draining 20,000 tasks that each
-- have a subject and a fair key (PostgreSQL 18, claims of 410, completions in batches of 40,
-- medians of six interleaved runs): 45 → 41 µs of PostgreSQL CPU per task.
CREATE INDEX tasks_subject_pending ON tasks (subject_id) WHERE subject_id IS NOT NULL AND status = 'pending';
DROP INDEX IF EXISTS tasks_subject;

-- Down Migration
CREATE INDEX tasks_subject ON tasks (subject_id) WHERE subject_id IS NOT NULL;
DROP INDEX tasks_subject_pending;
