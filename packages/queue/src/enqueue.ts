import { type Queryable, query } from '@imgkit/db';
import { newId } from '@imgkit/ids';
import { CHANNEL, Q } from './queries.ts';

export interface TaskSpec {
  kind: string;
  payload?: unknown;
  priority?: number;
  runAt?: Date;
  maxAttempts?: number;
  /** At most one unfinished task per key; a duplicate enqueue is a no-op that returns undefined. */
  dedupeKey?: string;
  subjectId?: string;
  /** NOTIFY idle workers (on commit). Off only in tests of the poll fallback. */
  notify?: boolean;
}

/**
 * Inserts a task on `db`, normally the caller's transaction, so the task exists
 * if and only if the row that needs it does. The NOTIFY is transactional too:
 * workers hear it only after COMMIT.
 */
export async function enqueue(
  db: Queryable,
  spec: TaskSpec,
): Promise<{ id: string; runAt: Date } | undefined> {
  const [row] = await query<{ id: string; run_at: Date }>(db, Q.insert, [
    newId('task'),
    spec.kind,
    JSON.stringify(spec.payload ?? {}),
    spec.priority ?? 0,
    spec.runAt ?? null,
    spec.maxAttempts ?? 10,
    spec.dedupeKey ?? null,
    spec.subjectId ?? null,
  ]);
  if (!row) return undefined;
  if (spec.notify !== false) await query(db, Q.notify, [CHANNEL, String(row.run_at.getTime())]);
  return { id: row.id, runAt: row.run_at };
}

/**
 * Enqueues on its own (not inside a caller's transaction) in a single autocommit
 * statement: insert and NOTIFY in one round trip. For callers with no row to write
 * alongside the task; run_at, priority and dedupe keys need enqueue().
 */
export async function enqueueNow(
  db: Queryable,
  spec: { kind: string; payload?: unknown; maxAttempts?: number; subjectId?: string },
): Promise<string> {
  const [row] = await query<{ id: string }>(db, Q.insertAndNotify, [
    newId('task'),
    spec.kind,
    JSON.stringify(spec.payload ?? {}),
    spec.maxAttempts ?? 10,
    spec.subjectId ?? null,
  ]);
  return row.id;
}

export async function cancelTasksForSubject(db: Queryable, subjectId: string): Promise<void> {
  await query(db, Q.cancelForSubject, [subjectId]);
}

export interface TaskStat {
  kind: string;
  status: string;
  count: number;
  oldest_ready_age_seconds: number | null;
}

export async function taskStats(db: Queryable): Promise<TaskStat[]> {
  return query<TaskStat>(db, Q.stats);
}

/** Puts a failed task back in the queue with a fresh attempt budget. */
export async function requeueFailedTask(
  db: Queryable,
  id: string,
): Promise<{ id: string; kind: string; subject_id: string | null } | undefined> {
  const [row] = await query<{ id: string; kind: string; subject_id: string | null }>(db, Q.requeue, [id]);
  if (row) await query(db, Q.notify, [CHANNEL, String(Date.now())]);
  return row;
}
