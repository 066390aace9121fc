export { type BackoffPolicy, backoffDelayMs } from './backoff.ts';
export { CHANNEL } from './channel.ts';
export { isConnectionError } from './db-retry.ts';
export {
  cancelTasksForSubject,
  cancelTasksForSubjects,
  type EnqueueOptions,
  enqueue,
  type FailedTask,
  failedTasksFor,
  insertManyWithTasks,
  insertWithTask,
  type NotifyPolicy,
  queueDepth,
  requeueFailedTask,
  type TaskStat,
  taskStats,
  taskStatsFor,
} from './enqueue.ts';
export {
  type ErrorRecord,
  outageError,
  permanentError,
  retryableError,
  TaskError,
  toErrorRecord,
} from './errors.ts';
export { FairRanks } from './fair-ranks.ts';
export {
  type ClaimedTask,
  type KindRef,
  kindName,
  type QueueLogger,
  type TaskContext,
  type TaskHandler,
  type TaskKind,
  type TaskKindDefinition,
  taskKind,
} from './kind.ts';
export { QUEUE_MIGRATIONS } from './migrations.ts';
export { Notifier } from './notifier.ts';
export { Worker, type WorkerOptions } from './worker.ts';
