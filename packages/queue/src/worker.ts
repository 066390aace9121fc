import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Listener, type Pool } from '@imgkit/db';
import { CHANNEL } from './channel.ts';
import { Claimer } from './claimer.ts';
import { TaskError } from './errors.ts';
import { type ClaimedTask, kindName, type QueueLogger, type TaskKindDefinition } from './kind.ts';
import { Leases } from './leases.ts';
import { Outcomes } from './outcomes.ts';
import { LeaseLostError, type Outcome, type Running, runTask, TaskAbort } from './runner.ts';

/** Tasks shorter than this on average are worth prefetching (a claim is ~1 ms). */
const PREFETCH_BELOW_MS = 50;
/**
 * By default a worker holds about this much work (at the recent average duration) ahead of each
 * slot, and at most PREFETCH_MAX_PER_SLOT tasks. A claim walks the ready index past the entries
 * of recently claimed tasks, a cost per claim rather than per task: bench/queue drained no-op
 * tasks 25 % faster, with ~3.5 µs less PostgreSQL CPU each, holding 40 per slot instead of 10.
 * Bounding the hold by time keeps slower tasks from being hoarded: at 25 ms a slot holds 2.
 */
const PREFETCH_WINDOW_MS = 50;
const PREFETCH_MAX_PER_SLOT = 40;

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
  /** How often a task that met an outage of ours (TaskError.outage) is tried again, ±50 %. */
  outageRetryMs?: number;
  /**
   * At most this many tasks claimed ahead of free slots (default: about PREFETCH_WINDOW_MS of
   * work per slot at the recent average duration, 1 to PREFETCH_MAX_PER_SLOT per slot), held
   * under lease in memory so a finished task's slot is refilled without a claim's round trip.
   * Only while tasks are short (recent ones took under PREFETCH_BELOW_MS on average): that is
   * where a claim's round trip matters, and holding long tasks would starve other workers.
   * The price: a crashed worker's prefetched tasks wait for their lease to expire like its
   * running ones, and use an attempt.
   */
  prefetch?: number;
  onTaskFinished?: (task: ClaimedTask, outcome: Outcome, ms: number) => void;
  /** Every error a handler ends with, and what became of the task (for error reporting). */
  onTaskError?: (task: ClaimedTask, err: unknown, outcome: 'retry' | 'failed') => void;
}

/**
 * Runs tasks in `concurrency` slots. The parts, one job each: the Claimer decides
 * when to claim (FOR UPDATE SKIP LOCKED), the Listener hears NOTIFY, Leases renews
 * and reclaims leases, runTask runs one task and Outcomes records what became of it.
 * This class wires them together and owns start and stop.
 */
export class Worker {
  readonly id: string;
  private readonly opts: WorkerOptions & { pollIntervalMs: number; leaseMs: number; retentionMs: number };
  private readonly kinds: Map<string, TaskKindDefinition>;
  private readonly running = new Map<string, Running>();
  /** Releases of tasks claimed while stopping, awaited by stop(). */
  private readonly handingBack = new Set<Promise<unknown>>();
  /** Claimed, leased, not started yet (see WorkerOptions.prefetch), oldest first. */
  private readonly prefetched: ClaimedTask[] = [];
  /** Moving average of recent task durations (ms); starts high, so nothing is prefetched at first. */
  private recentTaskMs = Number.POSITIVE_INFINITY;
  private readonly log: QueueLogger;
  private readonly claimer: Claimer;
  private readonly leases: Leases;
  private readonly outcomes: Outcomes;
  private readonly listener: Listener | undefined;
  private stopping = false;
  private timers: NodeJS.Timeout[] = [];

  constructor(options: WorkerOptions) {
    this.opts = { pollIntervalMs: 1000, leaseMs: 30_000, retentionMs: 7 * 24 * 3600_000, ...options };
    this.id = options.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.kinds = new Map(options.kinds.map((k) => [kindName(k.kind), k]));
    this.log = options.logger.child({ worker: this.id });
    const { pool, leaseMs } = this.opts;
    this.leases = new Leases(pool, this.id, leaseMs, this.log);
    this.outcomes = new Outcomes(pool, this.id, leaseMs);
    this.claimer = new Claimer({
      pool,
      workerId: this.id,
      kinds: [...this.kinds.keys()],
      leaseMs,
      capacity: () => this.opts.concurrency + this.prefetchNow(),
      running: () => this.running.size + this.prefetched.length,
      minClaim: () => {
        const extra = this.prefetchNow();
        return extra > 0 ? Math.ceil((this.opts.concurrency + extra) / 2) : 1;
      },
      start: (task) => this.accept(task),
      log: this.log,
    });
    this.listener = options.listenConnectionString
      ? new Listener({
          connectionString: options.listenConnectionString,
          channel: CHANNEL,
          applicationName: 'imgkit-listener',
          log: this.log,
          // The payload is the task's run_at in epoch milliseconds.
          onMessage: (payload) => {
            const runAt = Number(payload);
            this.claimer.wakeAtOrNow(Number.isFinite(runAt) ? runAt : Date.now());
          },
          onConnected: () => this.poll(), // what was enqueued while we were not listening
        })
      : undefined;
  }

  get runningCount(): number {
    return this.running.size;
  }

  get concurrency(): number {
    return this.opts.concurrency;
  }

  /**
   * Changes the number of slots while running, without a restart: more slots start held or
   * newly claimed tasks at once; fewer let the running tasks finish and start no new one until
   * the count is under the new limit. No task is dropped or handed back.
   */
  setConcurrency(n: number): void {
    if (!Number.isInteger(n) || n < 1 || n > 1024)
      throw new RangeError('concurrency must be an integer from 1 to 1024');
    this.opts.concurrency = n;
    while (!this.stopping && this.running.size < n && this.prefetched.length > 0) {
      this.startTask(this.prefetched.shift()!);
    }
    this.claimer.request();
  }

  async start(): Promise<void> {
    await this.listener?.start();
    // Stopped while the listener connected: no timers, or they would outlive stop().
    if (this.stopping) return;
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
    await this.claimer.stop();
    await this.listener?.stop();
    // Tasks of a claim that returned after stop() began, handed straight back by accept().
    await Promise.allSettled(this.handingBack);
    // Prefetched tasks never started: back to the queue at once, attempts given back.
    const queued = this.prefetched.splice(0).map((t) => t.id);
    if (queued.length) await this.leases.release(queued);
    const allDone = Promise.allSettled([...this.running.values()].map((r) => r.done));
    const timer = sleep(deadlineMs, 'timeout' as const, { ref: false });
    if ((await Promise.race([allDone, timer])) === 'timeout' && this.running.size > 0) {
      const ids = [...this.running.keys()];
      for (const r of this.running.values()) r.abort.abort(new TaskError('shutdown', 'worker shutting down'));
      await this.leases.release(ids);
      this.log.warn({ tasks: ids }, 'released unfinished tasks at shutdown');
    }
    await this.outcomes.flushed();
  }

  /** Deletes finished tasks older than the retention. */
  prune(): Promise<void> {
    return this.leases.prune(this.opts.retentionMs, () => this.stopping);
  }

  private poll(): void {
    this.claimer.wake();
    void this.leases.reclaimExpired().then((n) => n > 0 && this.claimer.wake());
  }

  /** How many tasks to hold beyond the slots now: only while tasks are short. */
  private prefetchNow(): number {
    if (this.recentTaskMs >= PREFETCH_BELOW_MS) return 0;
    if (this.opts.prefetch !== undefined) return this.opts.prefetch;
    const perSlot = Math.floor(PREFETCH_WINDOW_MS / Math.max(this.recentTaskMs, 0.001));
    return Math.min(PREFETCH_MAX_PER_SLOT, Math.max(1, perSlot)) * this.opts.concurrency;
  }

  /** A claimed task: started when a slot is free, otherwise held until one is. */
  private accept(task: ClaimedTask): void {
    // A claim that was in flight when stop() began: hand the task straight back.
    if (this.stopping) {
      const released = this.leases.release([task.id]);
      this.handingBack.add(released);
      void released.finally(() => this.handingBack.delete(released)).catch(() => undefined);
    } else if (this.running.size < this.opts.concurrency) this.startTask(task);
    else this.prefetched.push(task);
  }

  private startTask(task: ClaimedTask): void {
    // The task is running here already: our lease on it expired (the event loop stalled, or the
    // database was out of reach for a lease) and a sweep gave it back to the queue, from which
    // this worker claimed it again. The attempt that lost its lease stops, as it would had
    // another worker claimed the task; an older copy (prefetched before) is dropped. A claim
    // lost in a database crash (claims commit asynchronously) comes back with the attempt
    // number the running one has: that one still holds the row again, so nothing new starts,
    // unless it was already stopped for its lost lease.
    const other = this.running.get(task.id);
    if (other) {
      if (other.task.attempts > task.attempts) return;
      if (other.task.attempts === task.attempts && !other.leaseLost) return;
      other.leaseLost = true;
      other.abort.abort(new LeaseLostError('lease lost: the task was claimed again'));
    }
    const entry: Running = {
      task,
      abort: new TaskAbort(),
      leaseLost: false,
      done: Promise.resolve(),
    };
    this.running.set(task.id, entry);
    entry.done = this.execute(entry).finally(() => {
      if (this.running.get(task.id) === entry) this.running.delete(task.id);
      if (!this.stopping && this.running.size < this.opts.concurrency) {
        const next = this.prefetched.shift();
        if (next) this.startTask(next);
      }
      this.claimer.request();
    });
  }

  private async execute(entry: Running): Promise<void> {
    const { task } = entry;
    const log = this.log.child({ task: task.id, kind: task.kind, attempt: task.attempts });
    const started = performance.now();
    const outcome = await runTask(entry, this.kinds.get(task.kind)!, {
      outcomes: this.outcomes,
      log,
      random: this.opts.random ?? Math.random,
      outageRetryMs: this.opts.outageRetryMs ?? 15_000,
      stopping: () => this.stopping,
      onError: this.opts.onTaskError,
    });
    const elapsed = performance.now() - started;
    this.recentTaskMs = Number.isFinite(this.recentTaskMs)
      ? 0.9 * this.recentTaskMs + 0.1 * elapsed
      : elapsed;
    const ms = Math.round(elapsed);
    log.info({ outcome, ms }, 'task finished');
    this.opts.onTaskFinished?.(task, outcome, ms);
  }

  private async heartbeat(): Promise<void> {
    const lost = await this.leases.renew([...this.running.keys(), ...this.prefetched.map((t) => t.id)]);
    for (const id of lost) {
      // A prefetched task whose lease is gone belongs to another worker now: forget it.
      const i = this.prefetched.findIndex((t) => t.id === id);
      if (i >= 0) this.prefetched.splice(i, 1);
      const r = this.running.get(id);
      if (r) {
        r.leaseLost = true;
        r.abort.abort(new LeaseLostError('lease lost'));
      }
    }
  }
}
