import { type NamedQuery, type Queryable, query, queryOne, sql } from '@imgkit/db';

/**
 * The state machine images and jobs share — pending → processing → completed | failed,
 * back to pending with the last error while retries remain — written once for both
 * tables. Each owning package builds its statements with `transitions(table, columns)`.
 */

/** The columns every work item (an image, a job) has. */
export interface WorkItemRow {
  id: string;
  account_id: string;
  status: 'pending' | 'processing' | 'completed' | 'failed';
  webhook_url: string | null;
  passthrough: string | null;
  error_code: string | null;
  error_message: string | null;
  attempts: number;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
}

export interface Transitions {
  get: NamedQuery;
  reopen: NamedQuery;
  markProcessing: NamedQuery;
  retrying: NamedQuery;
  fail: NamedQuery;
}

export interface ErrorInfo {
  code: string;
  message: string;
}

/** The named statements of one table; `columns` is what the fail statement returns. */
export function transitions(table: 'images' | 'jobs', columns: string): Transitions {
  return {
    get: sql(`${table}.get_by_id`, `SELECT ${columns} FROM ${table} WHERE id = $1`),
    reopen: sql(
      `${table}.reopen`,
      `UPDATE ${table} SET status = 'pending', error_code = NULL, error_message = NULL, updated_at = now()
       WHERE id = $1 AND status = 'failed' RETURNING id`,
    ),
    markProcessing: sql(
      `${table}.mark_processing`,
      `UPDATE ${table} SET status = 'processing', attempts = $2, updated_at = now()
       WHERE id = $1 AND status IN ('pending', 'processing')`,
    ),
    retrying: sql(
      `${table}.retrying`,
      `UPDATE ${table} SET status = 'pending', error_code = $2, error_message = $3, attempts = $4, updated_at = now()
       WHERE id = $1`,
    ),
    fail: sql(
      `${table}.fail`,
      `UPDATE ${table} SET status = 'failed', error_code = $2, error_message = $3, attempts = $4, updated_at = now()
       WHERE id = $1 RETURNING ${columns}`,
    ),
  };
}

/**
 * The item an attempt works on, marked processing with the attempt number; undefined
 * when it was deleted or already reached its final state (nothing left to do).
 */
export async function startAttempt<R extends WorkItemRow>(
  db: Queryable,
  t: Transitions,
  id: string,
  attempt: number,
): Promise<R | undefined> {
  const row = await queryOne<R>(db, t.get, [id]);
  if (!row || row.status === 'completed' || row.status === 'failed') return undefined;
  await query(db, t.markProcessing, [id, attempt]);
  return row;
}

/** Inside the transaction that schedules a retry: back to pending, with the last error. */
export async function markRetrying(
  tx: Queryable,
  t: Transitions,
  id: string,
  error: ErrorInfo,
  attempts: number,
): Promise<void> {
  await query(tx, t.retrying, [id, error.code, error.message, attempts]);
}

/** Inside the transaction that fails the task for good; returns the failed row for its webhook. */
export function markFailed<R extends WorkItemRow>(
  tx: Queryable,
  t: Transitions,
  id: string,
  error: ErrorInfo,
  attempts: number,
): Promise<R | undefined> {
  return queryOne<R>(tx, t.fail, [id, error.code, error.message, attempts]);
}

/** A failed item back to pending, so a requeued task works on it again (operator retry). */
export async function reopen(tx: Queryable, t: Transitions, id: string): Promise<boolean> {
  return (await query(tx, t.reopen, [id])).length > 0;
}
