import type { Queryable } from '@imgkit/db';
import type { BackoffPolicy } from './backoff.ts';
import type { ErrorRecord } from './errors.ts';

/**
 * A kind of task: its name and, as a type parameter, its payload. Declared once in
 * the package that produces it (next to its producer helper) and imported by the
 * worker that handles it, so the name and the payload shape cannot drift apart.
 */
export interface TaskKind<P> {
  readonly name: string;
  /** Never set: carries the payload type. */
  readonly payload?: P;
}

export function taskKind<P extends object>(name: string): TaskKind<P> {
  return Object.freeze({ name });
}

/** A kind given as a declared TaskKind or, in tests and benchmarks, by its bare name. */
export type KindRef<P> = TaskKind<P> | string;

export function kindName(kind: KindRef<unknown>): string {
  return typeof kind === 'string' ? kind : kind.name;
}

export interface ClaimedTask {
  id: string;
  kind: string;
  payload: unknown;
  attempts: number;
  max_attempts: number;
  subject_id: string | null;
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

export type TaskHandler<P = unknown> = (payload: P, ctx: TaskContext) => Promise<void>;

/** How a worker runs one kind: the handler and its policies. */
// biome-ignore lint/suspicious/noExplicitAny: a worker holds definitions of many payload types in one list
export interface TaskKindDefinition<P = any> {
  kind: KindRef<P>;
  handler: TaskHandler<P>;
  timeoutMs?: number;
  backoff?: BackoffPolicy;
  /** Runs in the transaction that fails the task for good (permanent error or attempts used up). */
  onFinalFailure?: (tx: Queryable, task: ClaimedTask, error: ErrorRecord) => Promise<void>;
  /** Runs in the transaction that schedules a retry. */
  onRetry?: (tx: Queryable, task: ClaimedTask, error: ErrorRecord, runAt: Date) => Promise<void>;
}
