import { type Pool, type Queryable, query, sql, withTransaction } from '@imgkit/db';
import { errSummary, withDbRetry } from './db-retry.ts';
import type { ErrorRecord } from './errors.ts';
import { idArray } from './id-array.ts';
import type { ClaimedTask, QueueLogger, TaskKindDefinition } from './kind.ts';

// Completion and failure are fenced on (locked_by, attempts): a worker whose lease
// expired and was re-claimed cannot overwrite the new holder's outcome. locked_by is set exactly
// while a task runs (the claim sets it; every way out of running clears it), so these statements
// do not also say status = 'running': that condition would let the planner read the partial
// index of running tasks (tasks_leases) instead of probing the primary key, and with statistics
// taken while few tasks ran it does — every completion then read every running task's entry
// (and the dead ones not yet cleaned up), a cost that grows with the number of running tasks.
// The batch is matched through = ANY(array) (an index probe for each id), never by joining
// unnest(): with statistics taken while every task was pending, the planner expects no running
// rows and nests the function scan inside a loop over them, which is quadratic in the batch
// (seen at 1,300 completions: seconds per statement). The fence's attempts are one value per
// statement (the batch is split by attempts, nearly always one group): matching id-and-attempts
// pairs against a second array instead compared every row with every pair — a parameter's array
// is searched linearly, never hashed — and cost ~14 µs of PostgreSQL CPU per task in bench/queue.
const completeBatchSql = sql(
  'tasks.complete_batch',
  `UPDATE tasks t
   SET status = 'completed', finished_at = now(), updated_at = now(), locked_by = NULL, locked_until = NULL
   WHERE t.id = ANY($2::text[]) AND t.attempts = $3 AND t.locked_by = $1`,
);
const completeSql = sql(
  'tasks.complete',
  `UPDATE tasks
   SET status = 'completed', finished_at = now(), updated_at = now(), locked_by = NULL, locked_until = NULL
   WHERE id = $1 AND attempts = $2 AND locked_by = $3
   RETURNING id`,
);
const retrySql = sql(
  'tasks.retry',
  `UPDATE tasks
   SET status = 'pending', run_at = now() + make_interval(secs => $4::float8 / 1000), last_error = $5,
       attempts = attempts - $6::int, updated_at = now(), locked_by = NULL, locked_until = NULL
   WHERE id = $1 AND attempts = $2 AND locked_by = $3
   RETURNING id, run_at`,
);
const failSql = sql(
  'tasks.fail',
  `UPDATE tasks
   SET status = 'failed', last_error = $4, finished_at = now(), updated_at = now(),
       locked_by = NULL, locked_until = NULL
   WHERE id = $1 AND attempts = $2 AND locked_by = $3
   RETURNING id`,
);

/**
 * Writes what became of a task: completed (batched, or inside the handler's own
 * transaction), retried later, or failed for good, each with its kind's hook in the
 * same transaction. Writes survive a dropped connection for about a lease.
 */
export class Outcomes {
  private pending: { task: ClaimedTask; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private flushing: Promise<void> | undefined;

  private readonly pool: Pool;
  private readonly workerId: string;
  private readonly leaseMs: number;

  constructor(pool: Pool, workerId: string, leaseMs: number) {
    this.pool = pool;
    this.workerId = workerId;
    this.leaseMs = leaseMs;
  }

  /** Inside the handler's transaction; false when this worker no longer holds the task. */
  async completeWithin(tx: Queryable, task: ClaimedTask): Promise<boolean> {
    const rows = await query(tx, completeSql, [task.id, task.attempts, this.workerId]);
    return rows.length > 0;
  }

  /** Completions that finish in the same tick are written by one UPDATE. */
  completeBatched(task: ClaimedTask): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ task, resolve, reject });
      if (!this.flushing)
        this.flushing = new Promise<void>((r) => setImmediate(r)).then(() => this.flushLoop());
    });
  }

  async flushed(): Promise<void> {
    await this.flushing;
  }

  private async flushLoop(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      const byAttempts = Map.groupBy(batch, (c) => c.task.attempts);
      for (const [attempts, group] of byAttempts) {
        try {
          await withDbRetry(this.leaseMs, () =>
            query(this.pool, completeBatchSql, [
              this.workerId,
              idArray(group.map((c) => c.task.id)),
              attempts,
            ]),
          );
          for (const c of group) c.resolve();
        } catch (err) {
          // The leases will expire and the tasks run again: at-least-once, never lost.
          for (const c of group) c.reject(err);
        }
      }
    }
    this.flushing = undefined;
  }

  async retry(
    def: TaskKindDefinition,
    task: ClaimedTask,
    error: ErrorRecord,
    delayMs: number,
    log: QueueLogger,
    options: { refundAttempt?: boolean } = {},
  ): Promise<void> {
    await withDbRetry(this.leaseMs, () =>
      withTransaction(this.pool, async (tx) => {
        const [row] = await query<{ run_at: Date }>(tx, retrySql, [
          task.id,
          task.attempts,
          this.workerId,
          delayMs,
          error,
          options.refundAttempt ? 1 : 0,
        ]);
        if (row && def.onRetry) await def.onRetry(tx, task, error, row.run_at);
      }),
    ).catch((e) => log.error({ err: errSummary(e) }, 'could not record retry; the lease will expire'));
  }

  async fail(
    def: TaskKindDefinition,
    task: ClaimedTask,
    error: ErrorRecord,
    log: QueueLogger,
  ): Promise<void> {
    await withDbRetry(this.leaseMs, () =>
      withTransaction(this.pool, async (tx) => {
        const rows = await query(tx, failSql, [task.id, task.attempts, this.workerId, error]);
        if (rows.length > 0 && def.onFinalFailure) await def.onFinalFailure(tx, task, error);
      }),
    ).catch((e) => log.error({ err: errSummary(e) }, 'could not record failure; the lease will expire'));
  }
}
