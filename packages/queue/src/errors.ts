/**
 * An error a handler throws to say what happened. `permanent` errors fail the
 * task at once (404, not an image, a bomb); everything else is retried with
 * backoff until the kind's max_attempts.
 */
export class TaskError extends Error {
  override name = 'TaskError';
  readonly code: string;
  readonly permanent: boolean;
  /** Overrides the computed backoff (e.g. a Retry-After header). */
  readonly retryAfterMs?: number;
  /**
   * A dependency of ours is down (the blob store), not the task's input at fault: retried
   * without using up an attempt, so an outage longer than the backoff schedule fails nothing.
   */
  readonly outage: boolean;
  constructor(
    code: string,
    message: string,
    options: { permanent?: boolean; retryAfterMs?: number; outage?: boolean; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.code = code;
    this.permanent = options.permanent ?? false;
    this.retryAfterMs = options.retryAfterMs;
    this.outage = options.outage ?? false;
  }
}

export function permanentError(code: string, message: string, cause?: unknown): TaskError {
  return new TaskError(code, message, { permanent: true, cause });
}

export function retryableError(
  code: string,
  message: string,
  options: { retryAfterMs?: number; cause?: unknown } = {},
) {
  return new TaskError(code, message, { ...options, permanent: false });
}

/** Our own dependency is down: retry later and do not count the attempt (see TaskError.outage). */
export function outageError(code: string, message: string, cause?: unknown): TaskError {
  return new TaskError(code, message, { outage: true, cause });
}

export interface ErrorRecord {
  code: string;
  message: string;
}

/** Unknown errors are retryable: a bug or an outage deserves another try, not silent loss. */
export function toErrorRecord(
  err: unknown,
): ErrorRecord & { permanent: boolean; outage: boolean; retryAfterMs?: number } {
  if (err instanceof TaskError) {
    return {
      code: err.code,
      message: err.message,
      permanent: err.permanent,
      outage: err.outage,
      retryAfterMs: err.retryAfterMs,
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'internal_error', message: message.slice(0, 1000), permanent: false, outage: false };
}
