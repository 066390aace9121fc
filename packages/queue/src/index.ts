export { type BackoffPolicy, backoffDelayMs } from './backoff.ts';
export {
  cancelTasksForSubject,
  enqueue,
  enqueueNow,
  requeueFailedTask,
  type TaskSpec,
  type TaskStat,
  taskStats,
} from './enqueue.ts';
export { type ErrorRecord, permanentError, retryableError, TaskError, toErrorRecord } from './errors.ts';
export { Notifier } from './notifier.ts';
export { CHANNEL } from './queries.ts';
export {
  type ClaimedTask,
  type QueueLogger,
  type TaskContext,
  type TaskHandler,
  type TaskKindDefinition,
  Worker,
  type WorkerOptions,
} from './worker.ts';
