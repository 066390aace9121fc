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
  constructor(
    code: string,
    message: string,
    options: { permanent?: boolean; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.code = code;
    this.permanent = options.permanent ?? false;
    this.retryAfterMs = options.retryAfterMs;
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

export interface ErrorRecord {
  code: string;
  message: string;
}

/** Unknown errors are retryable: a bug or an outage deserves another try, not silent loss. */
export function toErrorRecord(err: unknown): ErrorRecord & { permanent: boolean; retryAfterMs?: number } {
  if (err instanceof TaskError) {
    return { code: err.code, message: err.message, permanent: err.permanent, retryAfterMs: err.retryAfterMs };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'internal_error', message: message.slice(0, 1000), permanent: false };
}
