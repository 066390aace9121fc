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

/** One claimed task being run. */
export interface Running {
  task: ClaimedTask;
  controller: AbortController;
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
  const { task, controller } = entry;
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
    signal: controller.signal,
    log,
    completeWithin: async (tx) => {
      if (!(await deps.outcomes.completeWithin(tx, task)))
        throw new LeaseLostError('lease lost before completion');
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
