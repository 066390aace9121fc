import { sql } from '@imgkit/db';

/** The channel workers LISTEN on; the payload is the task's run_at in epoch milliseconds. */
export const CHANNEL = 'imgkit_tasks';

export const Q = {
  insert: sql(
    'tasks.insert',
    `INSERT INTO tasks (id, kind, payload, priority, run_at, max_attempts, dedupe_key, subject_id)
     VALUES ($1, $2, $3, $4, coalesce($5, now()), $6, $7, $8)
     ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND status IN ('pending', 'running') DO NOTHING
     RETURNING id, run_at`,
  ),
  notify: sql('tasks.notify', 'SELECT pg_notify($1, $2)'),
  // Outside a transaction: the task and its NOTIFY in one autocommit statement (one round trip).
  insertAndNotify: sql(
    'tasks.insert_and_notify',
    `SELECT imgkit_enqueue($1, $2, $3, $4, $5) AS id,
            pg_notify('imgkit_tasks', (extract(epoch FROM now()) * 1000)::bigint::text)`,
  ),

  // SKIP LOCKED lets any number of workers claim side by side without waiting on each other.
  // The statement lives in a function (migrations/004) so stale statistics cannot turn it into a sort.
  claim: sql(
    'tasks.claim',
    `SELECT id, kind, payload, priority, run_at, attempts, max_attempts, subject_id, created_at, last_error
     FROM imgkit_claim_tasks($1, $2, $3::text[], $4::float8)`,
  ),
  // The next scheduled task of the highest pending priority (priorities are rare; the poll covers the rest).
  nextRunAt: sql(
    'tasks.next_run_at',
    `SELECT run_at FROM tasks
     WHERE status = 'pending' AND run_at > now() AND kind = ANY($1::text[])
     ORDER BY priority DESC, run_at, id LIMIT 1`,
  ),

  // Completion and failure are fenced on (locked_by, attempts): a worker whose lease
  // expired and was re-claimed cannot overwrite the new holder's outcome.
  completeBatch: sql(
    'tasks.complete_batch',
    `UPDATE tasks t
     SET status = 'completed', finished_at = now(), updated_at = now(), locked_by = NULL, locked_until = NULL
     FROM unnest($2::text[], $3::int[]) AS c(id, attempts)
     WHERE t.id = c.id AND t.attempts = c.attempts AND t.locked_by = $1 AND t.status = 'running'
     RETURNING t.id`,
  ),
  complete: sql(
    'tasks.complete',
    `UPDATE tasks
     SET status = 'completed', finished_at = now(), updated_at = now(), locked_by = NULL, locked_until = NULL
     WHERE id = $1 AND attempts = $2 AND locked_by = $3 AND status = 'running'
     RETURNING id`,
  ),
  retry: sql(
    'tasks.retry',
    `UPDATE tasks
     SET status = 'pending', run_at = now() + make_interval(secs => $4::float8 / 1000), last_error = $5,
         updated_at = now(), locked_by = NULL, locked_until = NULL
     WHERE id = $1 AND attempts = $2 AND locked_by = $3 AND status = 'running'
     RETURNING id, run_at`,
  ),
  fail: sql(
    'tasks.fail',
    `UPDATE tasks
     SET status = 'failed', last_error = $4, finished_at = now(), updated_at = now(),
         locked_by = NULL, locked_until = NULL
     WHERE id = $1 AND attempts = $2 AND locked_by = $3 AND status = 'running'
     RETURNING id`,
  ),
  heartbeat: sql(
    'tasks.heartbeat',
    `UPDATE tasks SET locked_until = now() + make_interval(secs => $3::float8 / 1000)
     WHERE id = ANY($2::text[]) AND locked_by = $1 AND status = 'running'
     RETURNING id`,
  ),
  // Hand back tasks on shutdown; the attempt was not the task's fault, so it is not counted.
  release: sql(
    'tasks.release',
    `UPDATE tasks
     SET status = 'pending', attempts = greatest(attempts - 1, 0), run_at = now(), updated_at = now(),
         locked_by = NULL, locked_until = NULL
     WHERE locked_by = $1 AND status = 'running' AND id = ANY($2::text[])
     RETURNING id`,
  ),
  // Expired leases go back to pending; a task whose attempts are used up is failed
  // by the next worker that claims it, so its kind's failure hook still runs.
  reclaimExpired: sql(
    'tasks.reclaim_expired',
    `WITH expired AS (
       SELECT id FROM tasks
       WHERE status = 'running' AND locked_until < now()
       LIMIT 100
       FOR UPDATE SKIP LOCKED
     )
     UPDATE tasks t
     SET status = 'pending', run_at = now(), updated_at = now(), locked_by = NULL, locked_until = NULL,
         last_error = jsonb_build_object('code', 'lease_expired',
           'message', 'the worker running this task stopped renewing its lease (crash or hang)')
     FROM expired WHERE t.id = expired.id
     RETURNING t.id`,
  ),
  prune: sql(
    'tasks.prune',
    `DELETE FROM tasks WHERE id IN (
       SELECT id FROM tasks
       WHERE status IN ('completed', 'failed') AND finished_at < now() - make_interval(secs => $1::float8 / 1000)
       LIMIT $2
     )`,
  ),
  stats: sql(
    'tasks.stats',
    `SELECT kind, status, count(*)::int AS count,
            extract(epoch FROM now() - min(run_at) FILTER (WHERE status = 'pending' AND run_at <= now()))::float8
              AS oldest_ready_age_seconds
     FROM tasks GROUP BY kind, status ORDER BY kind, status`,
  ),
  requeue: sql(
    'tasks.requeue',
    `UPDATE tasks
     SET status = 'pending', run_at = now(), attempts = 0, finished_at = NULL, updated_at = now()
     WHERE id = $1 AND status = 'failed'
     RETURNING id, kind, subject_id`,
  ),
  get: sql('tasks.get', 'SELECT * FROM tasks WHERE id = $1'),
  cancelForSubject: sql(
    'tasks.cancel_for_subject',
    `DELETE FROM tasks WHERE subject_id = $1 AND status = 'pending'`,
  ),
};
