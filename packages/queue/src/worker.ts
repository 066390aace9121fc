import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Pool, type Queryable, query, withTransaction } from '@imgkit/db';
import pg from 'pg';
import { type BackoffPolicy, backoffDelayMs } from './backoff.ts';
import { type ErrorRecord, TaskError, toErrorRecord } from './errors.ts';
import { CHANNEL, Q } from './queries.ts';

export interface ClaimedTask {
  id: string;
  kind: string;
  payload: unknown;
  priority: number;
  run_at: Date;
  attempts: number;
  max_attempts: number;
  subject_id: string | null;
  created_at: Date;
  last_error: ErrorRecord | null;
}

interface LogFn {
  (obj: object, msg?: string): void;
  (msg: string): void;
}
export interface QueueLogger {
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  debug: LogFn;
  child(bindings: object): QueueLogger;
}

export interface TaskContext {
  task: ClaimedTask;
  /** Aborted on timeout, on a lost lease and on forced shutdown; pass it to every fetch and decode. */
  signal: AbortSignal;
  log: QueueLogger;
  /**
   * Marks the task completed inside the caller's transaction, so the task's
   * effects and its completion commit together (the outbox pattern). Throws
   * when this worker no longer holds the task, which rolls the effects back.
   */
  completeWithin(tx: Queryable): Promise<void>;
}

export type TaskHandler = (payload: unknown, ctx: TaskContext) => Promise<void>;

export interface TaskKindDefinition {
  kind: string;
  handler: TaskHandler;
  timeoutMs?: number;
  backoff?: BackoffPolicy;
  /** Runs in the transaction that fails the task for good (permanent error or attempts used up). */
  onFinalFailure?: (tx: Queryable, task: ClaimedTask, error: ErrorRecord) => Promise<void>;
  /** Runs in the transaction that schedules a retry. */
  onRetry?: (tx: Queryable, task: ClaimedTask, error: ErrorRecord, runAt: Date) => Promise<void>;
}

export interface WorkerOptions {
  pool: Pool;
  /** For the LISTEN connection; omit for poll-only mode (e.g. behind PgBouncer in transaction mode). */
  listenConnectionString?: string;
  kinds: TaskKindDefinition[];
  concurrency: number;
  pollIntervalMs?: number;
  leaseMs?: number;
  retentionMs?: number;
  logger: QueueLogger;
  workerId?: string;
  /** Injected in tests to make backoff deterministic. */
  random?: () => number;
  onTaskFinished?: (
    task: ClaimedTask,
    outcome: 'completed' | 'retry' | 'failed' | 'lost',
    ms: number,
  ) => void;
}

const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1000, capMs: 10 * 60_000 };
const DEFAULT_TIMEOUT_MS = 5 * 60_000;
const PRUNE_BATCH = 1000;

class LeaseLostError extends Error {
  override name = 'LeaseLostError';
}

interface Running {
  task: ClaimedTask;
  controller: AbortController;
  leaseLost: boolean;
  done: Promise<void>;
}

/**
 * Claims tasks with FOR UPDATE SKIP LOCKED and runs them in `concurrency` slots.
 * Wakes on LISTEN/NOTIFY, polls as a fallback, sleeps until the next scheduled
 * task, and claims again at once while claims come back full.
 */
export class Worker {
  readonly id: string;
  private readonly opts: Required<
    Omit<WorkerOptions, 'listenConnectionString' | 'onTaskFinished' | 'workerId'>
  > &
    WorkerOptions;
  private readonly kinds: Map<string, TaskKindDefinition>;
  private readonly kindNames: string[];
  private readonly running = new Map<string, Running>();
  private readonly log: QueueLogger;
  private stopping = false;
  private claiming = false;
  private claimRequested = false;
  /** Set when there is probably more ready work than we have claimed (full batch, notification while busy, poll). */
  private moreWork = true;
  /** Bumped by every wake-up, so a claim that comes back short cannot swallow one that arrived meanwhile. */
  private wakeSeq = 0;
  private completions: { task: ClaimedTask; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private flushing: Promise<void> | undefined;
  private timers: NodeJS.Timeout[] = [];
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = Number.POSITIVE_INFINITY;
  private listener: pg.Client | undefined;
  private listenerRetryMs = 500;

  constructor(options: WorkerOptions) {
    this.opts = {
      pollIntervalMs: 1000,
      leaseMs: 30_000,
      retentionMs: 7 * 24 * 3600_000,
      random: Math.random,
      ...options,
    };
    this.id = options.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.kinds = new Map(options.kinds.map((k) => [k.kind, k]));
    this.kindNames = [...this.kinds.keys()];
    this.log = options.logger.child({ worker: this.id });
  }

  get runningCount(): number {
    return this.running.size;
  }

  async start(): Promise<void> {
    if (this.opts.listenConnectionString) await this.connectListener();
    const { pollIntervalMs, leaseMs } = this.opts;
    this.timers.push(
      setInterval(() => this.poll(), pollIntervalMs),
      setInterval(() => void this.heartbeat(), Math.max(200, Math.floor(leaseMs / 3))),
      setInterval(() => void this.prune(), Math.max(pollIntervalMs, 60_000)),
    );
    this.poll();
  }

  /**
   * Stops claiming, lets running tasks finish for up to `deadlineMs`, then aborts
   * the rest and hands their leases back so another worker starts them at once.
   */
  async stop(deadlineMs = 25_000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
    const allDone = Promise.allSettled([...this.running.values()].map((r) => r.done));
    const timer = sleep(deadlineMs, 'timeout' as const, { ref: false });
    if ((await Promise.race([allDone, timer])) === 'timeout' && this.running.size > 0) {
      const ids = [...this.running.keys()];
      for (const r of this.running.values())
        r.controller.abort(new TaskError('shutdown', 'worker shutting down'));
      await this.withDbRetry(() => query(this.opts.pool, Q.release, [this.id, ids])).catch((err) =>
        this.log.error({ err }, 'could not release leases; they will expire'),
      );
      this.log.warn({ tasks: ids }, 'released unfinished tasks at shutdown');
    }
    await this.flushCompletions();
  }

  // ---- waking up ---------------------------------------------------------

  private poll(): void {
    this.signalWork();
    void this.reclaimExpiredLeases();
    this.requestClaim();
  }

  private signalWork(): void {
    this.moreWork = true;
    this.wakeSeq++;
  }

  private requestClaim(): void {
    if (this.stopping) return;
    this.claimRequested = true;
    if (this.claiming) return;
    this.claiming = true;
    // An idle worker claims at once (latency); a busy one defers a tick so that several
    // slots freed at once are filled by one claim (throughput).
    if (this.running.size === 0) void this.claimLoop();
    else setImmediate(() => void this.claimLoop());
  }

  private async claimLoop(): Promise<void> {
    try {
      while (this.claimRequested && !this.stopping) {
        this.claimRequested = false;
        const free = this.opts.concurrency - this.running.size;
        if (free <= 0 || !this.moreWork) break;
        const seq = this.wakeSeq;
        let tasks: ClaimedTask[];
        try {
          tasks = await query<ClaimedTask>(this.opts.pool, Q.claim, [
            this.id,
            free,
            this.kindNames,
            this.opts.leaseMs,
          ]);
        } catch (err) {
          this.log.warn({ err: errSummary(err) }, 'claim failed; retrying at the next poll');
          break;
        }
        for (const task of tasks) this.startTask(task);
        if (tasks.length === free) {
          this.claimRequested = true;
        } else {
          if (this.wakeSeq === seq) this.moreWork = false;
          await this.scheduleNextWake();
        }
      }
    } finally {
      this.claiming = false;
      if (this.claimRequested && !this.stopping) this.requestClaim();
    }
  }

  /** Sleeps until the earliest scheduled task instead of polling for it. */
  private async scheduleNextWake(): Promise<void> {
    try {
      const [row] = await query<{ run_at: Date | null }>(this.opts.pool, Q.nextRunAt, [this.kindNames]);
      if (row?.run_at) this.wakeUpAt(row.run_at.getTime());
    } catch {
      // the poll covers it
    }
  }

  private wakeUpAt(atMs: number): void {
    if (atMs <= Date.now()) {
      this.signalWork();
      this.requestClaim();
      return;
    }
    if (atMs >= this.wakeAt || this.stopping) return;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeAt = atMs;
    this.wakeTimer = setTimeout(
      () => {
        this.wakeAt = Number.POSITIVE_INFINITY;
        this.signalWork();
        this.requestClaim();
      },
      Math.min(atMs - Date.now(), 2 ** 31 - 1),
    );
  }

  private async connectListener(): Promise<void> {
    if (this.stopping) return; // a reconnect timer may fire after stop()
    const client = new pg.Client({
      connectionString: this.opts.listenConnectionString,
      application_name: 'imgkit-listener',
    });
    client.on('notification', (msg) => {
      const runAt = Number(msg.payload);
      if (Number.isFinite(runAt) && runAt > Date.now() + 5) this.wakeUpAt(runAt);
      else {
        this.signalWork();
        this.requestClaim();
      }
    });
    const reconnect = (err?: unknown) => {
      if (this.listener !== client || this.stopping) return;
      this.listener = undefined;
      this.log.warn({ err: errSummary(err) }, 'LISTEN connection lost; reconnecting');
      client.end().catch(() => undefined);
      setTimeout(() => void this.connectListener(), this.listenerRetryMs).unref();
      this.listenerRetryMs = Math.min(this.listenerRetryMs * 2, 10_000);
    };
    client.on('error', reconnect);
    client.on('end', () => reconnect());
    try {
      this.listener = client;
      await client.connect();
      if (this.stopping || this.listener !== client) {
        await client.end().catch(() => undefined);
        return;
      }
      await client.query(`LISTEN ${CHANNEL}`);
      this.listenerRetryMs = 500;
      // Anything enqueued while we were not listening is found by this claim.
      this.poll();
    } catch (err) {
      reconnect(err);
    }
  }

  // ---- running tasks -----------------------------------------------------

  private startTask(task: ClaimedTask): void {
    const controller = new AbortController();
    const entry: Running = { task, controller, leaseLost: false, done: Promise.resolve() };
    this.running.set(task.id, entry);
    entry.done = this.execute(entry).finally(() => {
      this.running.delete(task.id);
      this.requestClaim();
    });
  }

  private async execute(entry: Running): Promise<void> {
    const { task, controller } = entry;
    const def = this.kinds.get(task.kind)!;
    const log = this.log.child({ task: task.id, kind: task.kind, attempt: task.attempts });
    const started = performance.now();
    const finished = (outcome: 'completed' | 'retry' | 'failed' | 'lost') => {
      const ms = Math.round(performance.now() - started);
      log.info({ outcome, ms }, 'task finished');
      this.opts.onTaskFinished?.(task, outcome, ms);
    };
    if (task.attempts > task.max_attempts) {
      // A lease expired on the last attempt: fail it here so the kind's failure hook runs.
      const error = task.last_error ?? { code: 'attempts_exhausted', message: 'no attempts left' };
      await this.failForGood(def, task, error, log);
      return finished('failed');
    }
    let completedInside = false;
    const ctx: TaskContext = {
      task,
      signal: controller.signal,
      log,
      completeWithin: async (tx) => {
        const rows = await query(tx, Q.complete, [task.id, task.attempts, this.id]);
        if (rows.length === 0) throw new LeaseLostError('lease lost before completion');
        completedInside = true;
      },
    };
    const timeoutMs = def.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const timeout = setTimeout(
      () => controller.abort(new TaskError('task_timeout', `task exceeded its ${timeoutMs} ms timeout`)),
      timeoutMs,
    );
    try {
      await untilAborted(def.handler(task.payload, ctx), controller.signal);
      // The slot is free as soon as the handler returns; the completion is written in the
      // next batch. If that write is lost, the lease expires and the task runs again
      // (at-least-once), which is the contract for handlers that do not completeWithin().
      if (!completedInside) {
        this.completeBatched(task).catch((err) =>
          log.warn(
            { err: errSummary(err) },
            'completion not recorded; the task will run again after its lease',
          ),
        );
      }
      finished('completed');
    } catch (err) {
      if (entry.leaseLost || err instanceof LeaseLostError || this.isShutdownAbort(err)) {
        log.warn(
          { err: errSummary(err) },
          'task abandoned: lease lost or shutdown; another worker will run it',
        );
        return finished('lost');
      }
      finished(await this.handleFailure(def, task, err, log));
    } finally {
      clearTimeout(timeout);
    }
  }

  private isShutdownAbort(err: unknown): boolean {
    return this.stopping && err instanceof TaskError && err.code === 'shutdown';
  }

  private async handleFailure(
    def: TaskKindDefinition,
    task: ClaimedTask,
    err: unknown,
    log: QueueLogger,
  ): Promise<'retry' | 'failed'> {
    const record = toErrorRecord(err);
    const error = { code: record.code, message: record.message };
    if (record.permanent || task.attempts >= task.max_attempts) {
      log.warn({ error, permanent: record.permanent }, 'task failed');
      await this.failForGood(def, task, error, log);
      return 'failed';
    }
    const delay =
      record.retryAfterMs ?? backoffDelayMs(task.attempts, def.backoff ?? DEFAULT_BACKOFF, this.opts.random);
    log.warn({ error, retryInMs: delay }, 'task will be retried');
    await this.withDbRetry(() =>
      withTransaction(this.opts.pool, async (tx) => {
        const [row] = await query<{ run_at: Date }>(tx, Q.retry, [
          task.id,
          task.attempts,
          this.id,
          delay,
          error,
        ]);
        if (row && def.onRetry) await def.onRetry(tx, task, error, row.run_at);
      }),
    ).catch((e) => log.error({ err: errSummary(e) }, 'could not record retry; the lease will expire'));
    return 'retry';
  }

  private async failForGood(
    def: TaskKindDefinition,
    task: ClaimedTask,
    error: ErrorRecord,
    log: QueueLogger,
  ) {
    await this.withDbRetry(() =>
      withTransaction(this.opts.pool, async (tx) => {
        const rows = await query(tx, Q.fail, [task.id, task.attempts, this.id, error]);
        if (rows.length > 0 && def.onFinalFailure) await def.onFinalFailure(tx, task, error);
      }),
    ).catch((e) => log.error({ err: errSummary(e) }, 'could not record failure; the lease will expire'));
  }

  /** Completions that finish in the same tick are written by one UPDATE. */
  private completeBatched(task: ClaimedTask): Promise<void> {
    return new Promise((resolve, reject) => {
      this.completions.push({ task, resolve, reject });
      if (!this.flushing)
        this.flushing = new Promise<void>((r) => setImmediate(r)).then(() => this.flushLoop());
    });
  }

  private async flushLoop(): Promise<void> {
    while (this.completions.length > 0) {
      const batch = this.completions;
      this.completions = [];
      try {
        await this.withDbRetry(() =>
          query(this.opts.pool, Q.completeBatch, [
            this.id,
            batch.map((c) => c.task.id),
            batch.map((c) => c.task.attempts),
          ]),
        );
        for (const c of batch) c.resolve();
      } catch (err) {
        // The leases will expire and the tasks run again: at-least-once, never lost.
        for (const c of batch) c.reject(err);
      }
    }
    this.flushing = undefined;
  }

  private async flushCompletions(): Promise<void> {
    await this.flushing;
  }

  // ---- leases and housekeeping ------------------------------------------

  private async heartbeat(): Promise<void> {
    if (this.running.size === 0) return;
    const ids = [...this.running.keys()];
    try {
      const held = new Set(
        (await query<{ id: string }>(this.opts.pool, Q.heartbeat, [this.id, ids, this.opts.leaseMs])).map(
          (r) => r.id,
        ),
      );
      for (const id of ids) {
        const r = this.running.get(id);
        if (r && !held.has(id)) {
          r.leaseLost = true;
          r.controller.abort(new LeaseLostError('lease lost'));
        }
      }
    } catch (err) {
      this.log.warn({ err: errSummary(err) }, 'heartbeat failed');
    }
  }

  private async reclaimExpiredLeases(): Promise<void> {
    try {
      const rows = await query(this.opts.pool, Q.reclaimExpired);
      if (rows.length > 0) {
        this.log.warn({ count: rows.length }, 'reclaimed tasks whose lease expired');
        this.signalWork();
        this.requestClaim();
      }
    } catch {
      // the next poll tries again
    }
  }

  /** Deletes finished tasks older than the retention, in small batches. */
  async prune(): Promise<void> {
    try {
      let deleted = PRUNE_BATCH;
      while (deleted === PRUNE_BATCH && !this.stopping) {
        const r = await this.opts.pool.query({
          name: Q.prune.name,
          text: Q.prune.text,
          values: [this.opts.retentionMs, PRUNE_BATCH],
        });
        deleted = r.rowCount ?? 0;
      }
    } catch (err) {
      this.log.warn({ err: errSummary(err) }, 'pruning finished tasks failed');
    }
  }

  /** Retries a database write across a dropped connection or a server restart, for up to about a lease. */
  private async withDbRetry<T>(fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.opts.leaseMs;
    let delay = 100;
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        if (!isConnectionError(err) || Date.now() + delay > deadline) throw err;
        await sleep(delay);
        delay = Math.min(delay * 2, 2000);
      }
    }
  }
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

const CONNECTION_ERROR_CODES = new Set([
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08003',
  '08006',
  '08001',
  '08004',
]);

function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (
    e?.code &&
    (CONNECTION_ERROR_CODES.has(e.code) || e.code === 'ECONNREFUSED' || e.code === 'ECONNRESET')
  ) {
    return true;
  }
  return /Connection terminated|connection timeout|Client has encountered a connection error/i.test(
    e?.message ?? '',
  );
}

function errSummary(err: unknown): { message: string; code?: string } | undefined {
  if (err === undefined) return undefined;
  const e = err as { message?: string; code?: string };
  return { message: e?.message ?? String(err), code: e?.code };
}
