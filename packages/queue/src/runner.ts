import { type BackoffPolicy, backoffDelayMs } from './backoff.ts';
import { errSummary } from './db-retry.ts';
import { TaskError, toErrorRecord } from './errors.ts';
import type { ClaimedTask, QueueLogger, TaskContext, TaskKindDefinition } from './kind.ts';
import type { Outcomes } from './outcomes.ts';

export type Outcome = 'completed' | 'retry' | 'failed' | 'lost';

export class LeaseLostError extends Error {
  override name = 'LeaseLostError';
}

const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1000, capMs: 10 * 60_000 };
const DEFAULT_TIMEOUT_MS = 5 * 60_000;

/**
 * How a running task is stopped (timeout, lost lease, forced shutdown): the runner stops waiting
 * for the handler at once, and the handler's AbortSignal fires. The AbortController is made only
 * when a handler reads its signal: a task that never looks at it costs no EventTarget (its
 * listeners and their bookkeeping were ~6 % of a worker's CPU on short tasks).
 */
export class TaskAbort {
  private controller: AbortController | undefined;
  private reason: unknown;
  private aborted = false;
  private rejectWaiter: ((reason: unknown) => void) | undefined;

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.rejectWaiter?.(reason);
    this.controller?.abort(reason);
  }

  /** `promise`, or a rejection with the abort's reason if that comes first. */
  race<T>(promise: Promise<T>): Promise<T> {
    if (this.aborted) return Promise.reject(this.reason);
    return new Promise<T>((resolve, reject) => {
      this.rejectWaiter = reject;
      promise.then(resolve, reject);
    });
  }
}

/** One claimed task being run. */
export interface Running {
  task: ClaimedTask;
  abort: TaskAbort;
  leaseLost: boolean;
  done: Promise<void>;
}

/**
 * Runs one task to an outcome: the handler under its kind's timeout and abort
 * signal, then completion, a retry with backoff, or a final failure.
 */
export async function runTask(
  entry: Running,
  def: TaskKindDefinition,
  deps: {
    outcomes: Outcomes;
    log: QueueLogger;
    random: () => number;
    outageRetryMs: number;
    /** True once the worker is stopping (an abort then means "hand back", not "failed"). */
    stopping: () => boolean;
    /** Told of every error a handler ends with (for error reporting). */
    onError?: (task: ClaimedTask, err: unknown, outcome: 'retry' | 'failed') => void;
  },
): Promise<Outcome> {
  const { task, abort } = entry;
  const log = deps.log;
  if (task.attempts > task.max_attempts) {
    // A lease expired on the last attempt: fail it here so the kind's failure hook runs.
    const error = task.last_error ?? { code: 'attempts_exhausted', message: 'no attempts left' };
    await deps.outcomes.fail(def, task, error, log);
    return 'failed';
  }
  let completedInside = false;
  const ctx: TaskContext = {
    task,
    get signal() {
      return abort.signal;
    },
    log,
    completeWithin: async (tx) => {
      if (!(await deps.outcomes.completeWithin(tx, task)))
        throw new LeaseLostError('lease lost before completion');
      completedInside = true;
    },
  };
  const timeoutMs = def.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const timeout = setTimeout(
    () => abort.abort(new TaskError('task_timeout', `task exceeded its ${timeoutMs} ms timeout`)),
    timeoutMs,
  );
  try {
    await abort.race(def.handler(task.payload, ctx));
    // The slot is free as soon as the handler returns; the completion is written in the
    // next batch. If that write is lost, the lease expires and the task runs again
    // (at-least-once), which is the contract for handlers that do not completeWithin().
    if (!completedInside) {
      deps.outcomes
        .completeBatched(task)
        .catch((err) =>
          log.warn(
            { err: errSummary(err) },
            'completion not recorded; the task will run again after its lease',
          ),
        );
    }
    return 'completed';
  } catch (err) {
    const shutdownAbort = deps.stopping() && err instanceof TaskError && err.code === 'shutdown';
    if (entry.leaseLost || err instanceof LeaseLostError || shutdownAbort) {
      log.warn(
        { err: errSummary(err) },
        'task abandoned: lease lost or shutdown; another worker will run it',
      );
      return 'lost';
    }
    const record = toErrorRecord(err);
    const error = { code: record.code, message: record.message };
    const final = !record.outage && (record.permanent || task.attempts >= task.max_attempts);
    deps.onError?.(task, err, final ? 'failed' : 'retry');
    if (final) {
      log.warn({ error, permanent: record.permanent }, 'task failed');
      await deps.outcomes.fail(def, task, error, log);
      return 'failed';
    }
    // An outage is retried every outageRetryMs (jittered) for as long as it lasts.
    const delay =
      record.retryAfterMs ??
      (record.outage
        ? deps.outageRetryMs * (0.5 + deps.random())
        : backoffDelayMs(task.attempts, def.backoff ?? DEFAULT_BACKOFF, deps.random));
    log.warn({ error, retryInMs: delay, outage: record.outage }, 'task will be retried');
    await deps.outcomes.retry(def, task, error, delay, log, { refundAttempt: record.outage });
    return 'retry';
  } finally {
    clearTimeout(timeout);
  }
}
