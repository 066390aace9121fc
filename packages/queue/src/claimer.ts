import { type Pool, query, sql } from '@imgkit/db';
import { errSummary } from './db-retry.ts';
import type { ClaimedTask, QueueLogger } from './kind.ts';

// SKIP LOCKED lets any number of workers claim side by side without waiting on each other.
// imgkit_pick_tasks (packages/queue/migrations/0011) picks and locks the ids in claim order with
// a plan stale statistics cannot turn into a sort; this UPDATE marks them running, probing the
// primary key for each (a nested loop over the function's rows, which keeps their order), so the
// tasks come back in the order they should start.
// The claim commits without waiting for its WAL to be flushed (synchronous_commit off for its
// own transaction only): one fsync less between a task's enqueue and its start. A claim lost
// in a crash of PostgreSQL leaves the task pending with its attempts as before, and every
// write of the worker that ran it is fenced on the claim (locked_by, attempts), so nothing
// it did commits twice; see docs/decisions.md. A claim that took nothing sets nothing.
// It returns what running a task needs and nothing more: run_at, created_at and priority,
// which no handler read, cost ~3 µs of the worker's CPU per task to parse (two timestamps into
// Dates) and PostgreSQL their output (bench/queue's worker 18 → 15 µs per task).
export const claim = sql(
  'tasks.claim',
  `UPDATE tasks t
   SET status = 'running', attempts = t.attempts + 1, locked_by = $1,
       locked_until = now() + make_interval(secs => $4::float8 / 1000), updated_at = now()
   FROM imgkit_pick_tasks($2, $3::text[]) AS picked(id)
   WHERE t.id = picked.id AND set_config('synchronous_commit', 'off', true) = 'off'
   RETURNING t.id, t.kind, t.payload, t.attempts, t.max_attempts, t.subject_id, t.last_error`,
);
// After a claim that came back short: when the next scheduled task of the highest pending
// priority becomes ready (priorities are rare; the poll covers the rest), and whether a task
// became ready in the last second and is still pending. That one the claim just missed: it
// became ready between the claim's now() and this one's (a timer fires a moment early, a
// notification's run_at is rounded to the millisecond), or another worker's claim holds its lock.
const nextRunAt = sql(
  'tasks.next_run_at',
  `SELECT (SELECT run_at FROM tasks
           WHERE status = 'pending' AND run_at > now() AND kind = ANY($1::text[])
           ORDER BY priority DESC, run_at, id LIMIT 1) AS next_at,
          EXISTS (SELECT FROM tasks
                  WHERE status = 'pending' AND run_at <= now() AND run_at > now() - interval '1 second'
                    AND kind = ANY($1::text[])) AS due`,
);

export interface ClaimerOptions {
  pool: Pool;
  workerId: string;
  kinds: string[];
  leaseMs: number;
  /** How many tasks this worker can hold now: its slots plus what it prefetches. */
  capacity: () => number;
  /** Tasks held right now (running and prefetched). */
  running: () => number;
  /**
   * The fewest free places worth a claim while tasks are still held (1 when unset). A worker
   * that prefetches short tasks waits until half its capacity is free: each claim then brings
   * a large batch, instead of one round trip for every few tasks that finished meanwhile.
   */
  minClaim?: () => number;
  /** Called with each claimed task; the task then occupies a slot. */
  start: (task: ClaimedTask) => void;
  log: QueueLogger;
}

/**
 * When to claim and how much. Claims as many tasks as there are free slots and claims
 * again at once while claims come back full; sleeps until the earliest scheduled task
 * instead of polling for it. Wake-ups (notifications, polls, freed slots) are counted,
 * so a claim that comes back short cannot swallow one that arrived meanwhile.
 */
export class Claimer {
  private stopped = false;
  private claiming = false;
  private looping: Promise<void> | undefined;
  private requested = false;
  /** Set when there is probably more ready work than we have claimed. */
  private moreWork = true;
  private wakeSeq = 0;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = Number.POSITIVE_INFINITY;
  private recheckTimer: NodeJS.Timeout | undefined;
  private recheckMs = 0;

  private readonly o: ClaimerOptions;

  constructor(options: ClaimerOptions) {
    this.o = options;
  }

  /** Stops claiming; resolves once a claim in flight has returned (and handed its tasks on). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    if (this.recheckTimer) clearTimeout(this.recheckTimer);
    await this.looping;
  }

  /** There may be new ready work (a notification, a poll, reclaimed leases): claim. */
  wake(): void {
    this.moreWork = true;
    this.wakeSeq++;
    this.request();
  }

  /** A notification for a task that becomes ready at `atMs`. */
  wakeAtOrNow(atMs: number): void {
    if (atMs <= Date.now() + 5) {
      this.wake();
      return;
    }
    if (atMs >= this.wakeAt || this.stopped) return;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeAt = atMs;
    this.wakeTimer = setTimeout(
      () => {
        this.wakeAt = Number.POSITIVE_INFINITY;
        this.wake();
      },
      Math.min(atMs - Date.now(), 2 ** 31 - 1),
    );
  }

  /** A slot was freed: claim if there is (probably) work. */
  request(): void {
    if (this.stopped) return;
    this.requested = true;
    if (this.claiming) return;
    this.claiming = true;
    // An idle worker claims at once (latency); a busy one defers a tick so that several
    // slots freed at once are filled by one claim (throughput).
    const run = () => {
      this.looping = this.loop();
    };
    if (this.o.running() === 0) run();
    else setImmediate(run);
  }

  private async loop(): Promise<void> {
    try {
      while (this.requested && !this.stopped) {
        this.requested = false;
        const free = this.o.capacity() - this.o.running();
        if (free <= 0 || !this.moreWork) break;
        if (this.o.running() > 0 && free < (this.o.minClaim?.() ?? 1)) break;
        const seq = this.wakeSeq;
        let tasks: ClaimedTask[];
        try {
          tasks = await query<ClaimedTask>(this.o.pool, claim, [
            this.o.workerId,
            free,
            this.o.kinds,
            this.o.leaseMs,
          ]);
        } catch (err) {
          this.o.log.warn({ err: errSummary(err) }, 'claim failed; retrying at the next poll');
          break;
        }
        for (const task of tasks) this.o.start(task);
        if (tasks.length === free) {
          this.requested = true;
        } else {
          if (this.wakeSeq === seq) this.moreWork = false;
          await this.scheduleNextWake();
        }
      }
    } finally {
      this.claiming = false;
      if (this.requested && !this.stopped) this.request();
    }
  }

  /**
   * Sleeps until the earliest scheduled task instead of polling for it. A task that is ready
   * but was not claimed is looked at again shortly, backing off (5 ms doubling to 1 s) so that
   * a row another worker holds locked is not polled in a tight loop; without that look it would
   * wait for the next poll.
   */
  private async scheduleNextWake(): Promise<void> {
    let row: { next_at: Date | null; due: boolean } | undefined;
    try {
      [row] = await query<{ next_at: Date | null; due: boolean }>(this.o.pool, nextRunAt, [this.o.kinds]);
    } catch {
      return; // the poll covers it
    }
    if (row?.next_at) this.wakeAtOrNow(row.next_at.getTime());
    if (!row?.due) {
      this.recheckMs = 0;
      return;
    }
    if (this.recheckTimer || this.stopped) return;
    this.recheckMs = Math.min(this.recheckMs ? this.recheckMs * 2 : 5, 1000);
    this.recheckTimer = setTimeout(() => {
      this.recheckTimer = undefined;
      this.wake();
    }, this.recheckMs);
  }
}
