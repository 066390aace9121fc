import { type NamedQuery, type Queryable, query, queryOne, sql } from '@imgkit/db';
import { newId } from '@imgkit/ids';
import { CHANNEL } from './channel.ts';
import type { FairRanks } from './fair-ranks.ts';
import { type KindRef, kindName } from './kind.ts';
import type { Notifier } from './notifier.ts';

/**
 * How idle workers learn of a new task:
 * - `'on-commit'` (default): NOTIFY in the same statement, delivered when the caller's
 *   transaction commits (at once on the pool);
 * - a `Notifier`: one coalesced NOTIFY right after the statement, for hot paths that
 *   enqueue in autocommit statements (a NOTIFY in every transaction serialises writers);
 * - `'none'`: workers find it by polling (tests of the poll fallback).
 */
export type NotifyPolicy = 'on-commit' | 'none' | Notifier;

export interface EnqueueOptions {
  /** The row the task works on, so deleting the row can cancel its pending tasks. */
  subjectId?: string;
  maxAttempts?: number;
  priority?: number;
  runAt?: Date;
  /** At most one unfinished task per key; a duplicate enqueue is a no-op that returns undefined. */
  dedupeKey?: string;
  /**
   * Who the task works for (an account id): claims interleave keys, so one key's backlog
   * cannot delay another key's first task (packages/queue/migrations/0004).
   */
  fairKey?: string;
  notify?: NotifyPolicy;
}

const INSERT = `INSERT INTO tasks (id, kind, payload, priority, run_at, max_attempts, dedupe_key, subject_id,
                     fair_key, fair_rank)
  VALUES ($1, $2, $3, $4, coalesce($5, now()), $6, $7, $8, $9::text,
          CASE WHEN $9::text IS NULL THEN imgkit_head_rank() ELSE imgkit_fair_rank($9::text) END)
  ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND status IN ('pending', 'running') DO NOTHING
  RETURNING id, run_at`;
const insertTask = sql('tasks.insert', INSERT);
// Insert and NOTIFY in one round trip; nothing is notified when the dedupe key skipped the insert.
const insertTaskAndNotify = sql(
  'tasks.insert_and_notify',
  `WITH t AS (${INSERT})
   SELECT t.id, t.run_at, pg_notify('${CHANNEL}', (extract(epoch FROM t.run_at) * 1000)::bigint::text) FROM t`,
);

/**
 * The one way to enqueue. On `db` — normally the caller's transaction, so the task
 * exists if and only if the row that needs it does.
 */
export async function enqueue<P>(
  db: Queryable,
  kind: KindRef<P>,
  payload: P,
  options: EnqueueOptions = {},
): Promise<{ id: string; runAt: Date } | undefined> {
  const notify = options.notify ?? 'on-commit';
  const [row] = await query<{ id: string; run_at: Date }>(
    db,
    notify === 'on-commit' ? insertTaskAndNotify : insertTask,
    [
      newId('task'),
      kindName(kind),
      JSON.stringify(payload ?? {}),
      options.priority ?? 0,
      options.runAt ?? null,
      options.maxAttempts ?? 10,
      options.dedupeKey ?? null,
      options.subjectId ?? null,
      options.fairKey ?? null,
    ],
  );
  if (!row) return undefined;
  if (typeof notify === 'object') notify.wake();
  return { id: row.id, runAt: row.run_at };
}

const withTaskStatements = new Map<string, NamedQuery>();
const fairRankSql = sql('tasks.fair_rank', 'SELECT imgkit_fair_rank($1) AS rank');

/**
 * Runs a producer's INSERT … RETURNING and enqueues the task for the inserted row in
 * the same statement (one round trip, atomic without BEGIN/COMMIT). The producer owns
 * its SQL; only this package knows how tasks are written.
 */
export async function insertWithTask<R extends object, P>(
  db: Queryable,
  row: { statement: NamedQuery; values: unknown[] },
  kind: KindRef<P>,
  payload: P,
  options: Pick<EnqueueOptions, 'subjectId' | 'maxAttempts' | 'notify' | 'fairKey'> & {
    /** The producer's rank reservations (one per process); without it a rank costs a statement. */
    ranks?: FairRanks;
  } = {},
): Promise<R & { task_id: string }> {
  // On the pool (autocommit) the rank is taken first, in its own statement: the key's counter
  // row is then locked for that statement only, not across this insert's commit (a WAL flush),
  // so one account's concurrent creates share flushes instead of queueing. A rank taken for an
  // insert that then fails leaves a gap, which costs nothing. With `ranks` it usually costs no
  // statement at all (reserved in blocks, see FairRanks). Inside a transaction the rank is
  // taken by the insert itself, as the transaction holds the lock to its end anyway.
  const onPool = typeof (db as { totalCount?: unknown }).totalCount === 'number';
  const rank =
    options.fairKey && onPool
      ? options.ranks
        ? await options.ranks.next(options.fairKey)
        : ((await queryOne<{ rank: string }>(db, fairRankSql, [options.fairKey]))?.rank ?? null)
      : null;
  const policy = options.notify ?? 'on-commit';
  // A Notifier's NOTIFY rides on this statement when none is in flight (see Notifier.carry).
  const carrying = typeof policy === 'object' && policy.carry();
  let committed = false;
  try {
    const [result] = await query<R & { task_id: string }>(
      db,
      withTaskStatement(row.statement, row.values.length, policy === 'on-commit' || carrying),
      [
        ...row.values,
        newId('task'),
        kindName(kind),
        JSON.stringify(payload ?? {}),
        options.maxAttempts ?? 10,
        options.subjectId ?? null,
        options.fairKey ?? null,
        rank,
      ],
    );
    committed = true;
    if (typeof policy === 'object' && !carrying) policy.wake();
    return result;
  } finally {
    if (carrying) policy.carried(committed);
  }
}

/**
 * The producer's INSERT … RETURNING with the task's INSERT for its row, and optionally the
 * NOTIFY. The task's INSERT is written out here rather than called through imgkit_enqueue():
 * before PostgreSQL 18 a SQL function that writes is planned again on every call, which cost
 * the api's hottest statement a third of its PostgreSQL time; prepared as it is, both inserts
 * are planned once per connection.
 */
function withTaskStatement(subject: NamedQuery, n: number, notifying: boolean): NamedQuery {
  const name = `${subject.name}+task${notifying ? '+notify' : ''}`;
  let statement = withTaskStatements.get(name);
  if (!statement) {
    const notifyColumn = notifying
      ? `, pg_notify('${CHANNEL}', (extract(epoch FROM now()) * 1000)::bigint::text)`
      : '';
    statement = sql(
      name,
      `WITH subject AS (${subject.text}),
       task AS (
         INSERT INTO tasks (id, kind, payload, max_attempts, subject_id, fair_key, fair_rank)
         SELECT $${n + 1}, $${n + 2}, $${n + 3}::jsonb, $${n + 4}, $${n + 5}, $${n + 6}::text,
                coalesce($${n + 7}::bigint, CASE WHEN $${n + 6}::text IS NULL THEN imgkit_head_rank()
                                                 ELSE imgkit_fair_rank($${n + 6}::text) END)
         FROM subject
         RETURNING id
       )
       SELECT subject.*, task.id AS task_id${notifyColumn}
       FROM subject, task`,
    );
    withTaskStatements.set(name, statement);
  }
  return statement;
}

/**
 * insertWithTask for many rows in one statement: `rows.statement` is the producer's multi-row
 * `INSERT … SELECT … FROM unnest($1, …) RETURNING …` (returning an `id` column), and each
 * row's task works on the row whose `id` is `subjectIds[i]`. Atomic as one statement: all rows
 * and their tasks, or none. On the pool only (the ranks are taken beforehand, as above).
 * Results come back in the order of `subjectIds`.
 */
export async function insertManyWithTasks<R extends { id: string }, P>(
  db: Queryable,
  rows: { statement: NamedQuery; values: unknown[] },
  kind: KindRef<P>,
  tasks: { subjectId: string; payload: P; fairKey?: string }[],
  options: Pick<EnqueueOptions, 'maxAttempts' | 'notify'> & { ranks?: FairRanks } = {},
): Promise<(R & { task_id: string })[]> {
  const ranks = await Promise.all(
    tasks.map(async (t) =>
      t.fairKey
        ? options.ranks
          ? await options.ranks.next(t.fairKey)
          : ((await queryOne<{ rank: string }>(db, fairRankSql, [t.fairKey]))?.rank ?? null)
        : null,
    ),
  );
  const policy = options.notify ?? 'on-commit';
  const carrying = typeof policy === 'object' && policy.carry();
  let committed = false;
  try {
    const result = await query<R & { task_id: string }>(
      db,
      manyWithTasksStatement(rows.statement, rows.values.length, policy === 'on-commit' || carrying),
      [
        ...rows.values,
        tasks.map(() => newId('task')),
        kindName(kind),
        tasks.map((t) => JSON.stringify(t.payload ?? {})),
        options.maxAttempts ?? 10,
        tasks.map((t) => t.subjectId),
        tasks.map((t) => t.fairKey ?? null),
        ranks,
      ],
    );
    committed = true;
    if (typeof policy === 'object' && !carrying) policy.wake();
    const byId = new Map(result.map((r) => [r.id, r]));
    return tasks.map((t) => byId.get(t.subjectId)!);
  } finally {
    if (carrying) policy.carried(committed);
  }
}

function manyWithTasksStatement(subject: NamedQuery, n: number, notifying: boolean): NamedQuery {
  const name = `${subject.name}+tasks${notifying ? '+notify' : ''}`;
  let statement = withTaskStatements.get(name);
  if (!statement) {
    const notifyColumn = notifying
      ? `, pg_notify('${CHANNEL}', (extract(epoch FROM now()) * 1000)::bigint::text)`
      : '';
    statement = sql(
      name,
      `WITH subject AS (${subject.text}),
       task AS (
         INSERT INTO tasks (id, kind, payload, max_attempts, subject_id, fair_key, fair_rank)
         SELECT t.id, $${n + 2}, t.payload::jsonb, $${n + 4}, t.subject_id, t.fair_key,
                coalesce(t.rank, CASE WHEN t.fair_key IS NULL THEN imgkit_head_rank()
                                      ELSE imgkit_fair_rank(t.fair_key) END)
         FROM unnest($${n + 1}::text[], $${n + 3}::text[], $${n + 5}::text[], $${n + 6}::text[], $${n + 7}::bigint[])
                AS t(id, payload, subject_id, fair_key, rank)
         JOIN subject ON subject.id = t.subject_id
         RETURNING id, subject_id
       )
       SELECT subject.*, task.id AS task_id${notifyColumn}
       FROM subject JOIN task ON task.subject_id = subject.id`,
    );
    withTaskStatements.set(name, statement);
  }
  return statement;
}

const cancelForSubject = sql(
  'tasks.cancel_for_subject',
  `DELETE FROM tasks WHERE subject_id = $1 AND status = 'pending'`,
);

export async function cancelTasksForSubject(db: Queryable, subjectId: string): Promise<void> {
  await query(db, cancelForSubject, [subjectId]);
}

const cancelForSubjects = sql(
  'tasks.cancel_for_subjects',
  `DELETE FROM tasks WHERE subject_id = ANY($1::text[]) AND status = 'pending'`,
);

/** Pending tasks of these rows are deleted (running ones finish; their handlers see the row's state). */
export async function cancelTasksForSubjects(db: Queryable, subjectIds: string[]): Promise<void> {
  if (subjectIds.length > 0) await query(db, cancelForSubjects, [subjectIds]);
}

export interface TaskStat {
  kind: string;
  status: string;
  count: number;
  oldest_ready_age_seconds: number | null;
}

const stats = sql(
  'tasks.stats',
  `SELECT kind, status, count(*)::int AS count,
          extract(epoch FROM now() - min(run_at) FILTER (WHERE status = 'pending' AND run_at <= now()))::float8
            AS oldest_ready_age_seconds
   FROM tasks GROUP BY kind, status ORDER BY kind, status`,
);

export async function taskStats(db: Queryable): Promise<TaskStat[]> {
  return query<TaskStat>(db, stats);
}

// Unfinished tasks only: the partial indexes on pending and running rows answer it without
// reading the (much larger) history of finished tasks, so a scrape stays cheap.
const depthSql = sql(
  'tasks.depth',
  `SELECT kind, status, count(*)::int AS count,
          extract(epoch FROM now() - min(run_at) FILTER (WHERE status = 'pending' AND run_at <= now()))::float8
            AS oldest_ready_age_seconds
   FROM tasks WHERE status IN ('pending', 'running') GROUP BY kind, status ORDER BY kind, status`,
);

/** Pending and running tasks by kind, with the age of the oldest ready one (for /metrics). */
export async function queueDepth(db: Queryable): Promise<TaskStat[]> {
  return query<TaskStat>(db, depthSql);
}

// $2: only a task working for this fair key (account); null for an operator.
const requeue = sql(
  'tasks.requeue',
  `WITH t AS (
     UPDATE tasks
     SET status = 'pending', run_at = now(), attempts = 0, finished_at = NULL, updated_at = now()
     WHERE id = $1 AND status = 'failed' AND ($2::text IS NULL OR fair_key = $2)
     RETURNING id, kind, subject_id
   )
   SELECT t.*, pg_notify('${CHANNEL}', (extract(epoch FROM now()) * 1000)::bigint::text) FROM t`,
);

/** Puts a failed task back in the queue with a fresh attempt budget. */
export async function requeueFailedTask(
  db: Queryable,
  id: string,
  fairKey: string | null = null,
): Promise<{ id: string; kind: string; subject_id: string | null } | undefined> {
  const [row] = await query<{ id: string; kind: string; subject_id: string | null }>(db, requeue, [
    id,
    fairKey,
  ]);
  return row ? { id: row.id, kind: row.kind, subject_id: row.subject_id } : undefined;
}

// Both read the tasks_fair_unfinished index only.
const fairStats = sql(
  'tasks.fair_stats',
  `SELECT kind, status, count(*)::int AS count,
          extract(epoch FROM now() - min(run_at) FILTER (WHERE status = 'pending' AND run_at <= now()))::float8
            AS oldest_ready_age_seconds
   FROM tasks WHERE fair_key = $1 AND status IN ('pending', 'running', 'failed') AND fair_key IS NOT NULL
   GROUP BY kind, status ORDER BY kind, status`,
);

/** One account's (fair key's) pending, running and failed tasks by kind, and the oldest ready one's age. */
export async function taskStatsFor(db: Queryable, fairKey: string): Promise<TaskStat[]> {
  return query<TaskStat>(db, fairStats, [fairKey]);
}

export interface FailedTask {
  id: string;
  kind: string;
  subject_id: string | null;
  attempts: number;
  max_attempts: number;
  last_error: { code?: string; message?: string } | null;
  finished_at: Date | null;
}

const failedSql = sql(
  'tasks.failed_for',
  `SELECT id, kind, subject_id, attempts, max_attempts, last_error, finished_at
   FROM tasks
   WHERE fair_key = $1 AND status = 'failed' AND fair_key IS NOT NULL AND ($2::text IS NULL OR id < $2)
   ORDER BY id DESC LIMIT $3`,
);

/** One account's failed tasks, newest first (ids are time-ordered), after `startingAfter`. */
export async function failedTasksFor(
  db: Queryable,
  fairKey: string,
  limit: number,
  startingAfter?: string,
): Promise<FailedTask[]> {
  return query<FailedTask>(db, failedSql, [fairKey, startingAfter ?? null, limit]);
}
