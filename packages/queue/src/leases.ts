import { type Pool, query, sql } from '@imgkit/db';
import { errSummary, withDbRetry } from './db-retry.ts';
import { idArray } from './id-array.ts';
import type { QueueLogger } from './kind.ts';

// Rows this worker holds are found by id and locked_by alone (see outcomes.ts: locked_by is set
// exactly while a task runs, and a status condition would invite the planner to read every
// running task through tasks_leases instead of probing the primary key).
const heartbeatSql = sql(
  'tasks.heartbeat',
  `UPDATE tasks SET locked_until = now() + make_interval(secs => $3::float8 / 1000)
   WHERE id = ANY($2::text[]) AND locked_by = $1
   RETURNING id`,
);
// Hand back tasks on shutdown; the attempt was not the task's fault, so it is not counted.
const releaseSql = sql(
  'tasks.release',
  `UPDATE tasks
   SET status = 'pending', attempts = greatest(attempts - 1, 0), run_at = now(), updated_at = now(),
       locked_by = NULL, locked_until = NULL
   WHERE locked_by = $1 AND id = ANY($2::text[])
   RETURNING id`,
);
// Expired leases go back to pending; a task whose attempts are used up is failed
// by the next worker that claims it, so its kind's failure hook still runs.
const reclaimExpiredSql = sql(
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
);
const pruneSql = sql(
  'tasks.prune',
  `DELETE FROM tasks WHERE id IN (
     SELECT id FROM tasks
     WHERE status IN ('completed', 'failed') AND finished_at < now() - make_interval(secs => $1::float8 / 1000)
     LIMIT $2
   )`,
);

const PRUNE_BATCH = 1000;

/**
 * Leases and housekeeping: renew the leases of running tasks (and say which were
 * lost), hand tasks back at shutdown, return expired leases of crashed workers to
 * the queue, and delete finished tasks after their retention.
 */
export class Leases {
  private readonly pool: Pool;
  private readonly workerId: string;
  private readonly leaseMs: number;
  private readonly log: QueueLogger;

  constructor(pool: Pool, workerId: string, leaseMs: number, log: QueueLogger) {
    this.pool = pool;
    this.workerId = workerId;
    this.leaseMs = leaseMs;
    this.log = log;
  }

  /** Renews the leases of `ids`; returns those this worker no longer holds. */
  async renew(ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    try {
      const rows = await query<{ id: string }>(this.pool, heartbeatSql, [
        this.workerId,
        idArray(ids),
        this.leaseMs,
      ]);
      const held = new Set(rows.map((r) => r.id));
      return ids.filter((id) => !held.has(id));
    } catch (err) {
      this.log.warn({ err: errSummary(err) }, 'heartbeat failed');
      return [];
    }
  }

  async release(ids: string[]): Promise<void> {
    await withDbRetry(this.leaseMs, () => query(this.pool, releaseSql, [this.workerId, idArray(ids)])).catch(
      (err) => this.log.error({ err }, 'could not release leases; they will expire'),
    );
  }

  /** Returns how many expired leases were put back in the queue. */
  async reclaimExpired(): Promise<number> {
    try {
      const rows = await query(this.pool, reclaimExpiredSql);
      if (rows.length > 0) this.log.warn({ count: rows.length }, 'reclaimed tasks whose lease expired');
      return rows.length;
    } catch {
      return 0; // the next poll tries again
    }
  }

  /** Deletes finished tasks older than the retention, in small batches. */
  async prune(retentionMs: number, stopped: () => boolean): Promise<void> {
    try {
      let deleted = PRUNE_BATCH;
      while (deleted === PRUNE_BATCH && !stopped()) {
        const r = await this.pool.query({
          name: pruneSql.name,
          text: pruneSql.text,
          values: [retentionMs, PRUNE_BATCH],
        });
        deleted = r.rowCount ?? 0;
      }
    } catch (err) {
      this.log.warn({ err: errSummary(err) }, 'pruning finished tasks failed');
    }
  }
}
