import { isDatabaseUnavailable } from '@imgkit/db';
import { ConflictError, InputError, NotFoundError, TooLargeError } from '@imgkit/errors';
import { IdempotencyError } from '@imgkit/idempotency';
import { StorageUnavailableError } from '@imgkit/storage';
import type { ErrorRequestHandler, Response } from 'express';

/** One field-level validation failure, as in RFC 9457 extension `errors[]`. */
export interface FieldError {
  field: string;
  message: string;
}

/**
 * An RFC 9457 problem document. `code` is the stable machine-readable name;
 * `type` is a URI built from it.
 */
export class Problem extends Error {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly detail?: string;
  readonly errors?: FieldError[];
  /** rejected_by_rule: the account's intake rule that refused the request. */
  readonly rule?: string;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: string,
    title: string,
    detail?: string,
    extra: { errors?: FieldError[]; headers?: Record<string, string>; rule?: string } = {},
  ) {
    super(detail ?? title);
    this.status = status;
    this.code = code;
    this.title = title;
    this.detail = detail;
    this.errors = extra.errors;
    this.rule = extra.rule;
    this.headers = extra.headers ?? {};
  }

  toJSON() {
    return {
      type: `https://imgkit.dev/problems/${this.code}`,
      code: this.code,
      title: this.title,
      status: this.status,
      ...(this.detail ? { detail: this.detail } : {}),
      ...(this.errors ? { errors: this.errors } : {}),
      ...(this.rule ? { rule: this.rule } : {}),
    };
  }
}

export const problems = {
  notFound: (detail = 'No such resource.') => new Problem(404, 'not_found', 'Not Found', detail),
  unauthorized: (detail: string) =>
    new Problem(401, 'unauthorized', 'Unauthorized', detail, {
      headers: { 'WWW-Authenticate': 'Bearer realm="imgkit"' },
    }),
  validation: (errors: FieldError[]) =>
    new Problem(
      400,
      'validation_failed',
      'Validation Failed',
      errors.map((e) => `${e.field}: ${e.message}`).join('; '),
      { errors },
    ),
  badRequest: (code: string, detail: string) => new Problem(400, code, 'Bad Request', detail),
  payloadTooLarge: (limit: number) =>
    new Problem(
      413,
      'payload_too_large',
      'Payload Too Large',
      `The body exceeds the limit of ${limit} bytes.`,
    ),
  /** An upload the account's intake rules refuse at the door: 413 for bytes, 415 for the format. */
  rejectedByRule: (rule: string, detail: string) =>
    rule === 'max_bytes'
      ? new Problem(413, 'rejected_by_rule', 'Payload Too Large', detail, { rule })
      : new Problem(415, 'rejected_by_rule', 'Unsupported Media Type', detail, { rule }),
  unsupportedMediaType: (detail: string) =>
    new Problem(415, 'unsupported_media_type', 'Unsupported Media Type', detail),
  conflict: (code: string, detail: string) => new Problem(409, code, 'Conflict', detail),
  unprocessable: (code: string, detail: string) => new Problem(422, code, 'Unprocessable Content', detail),
  rateLimited: (retryAfterSeconds: number) =>
    new Problem(429, 'rate_limited', 'Too Many Requests', `Retry after ${retryAfterSeconds} s.`, {
      headers: { 'Retry-After': String(retryAfterSeconds) },
    }),
  unavailable: (detail: string, retryAfterSeconds = 5) =>
    new Problem(503, 'unavailable', 'Service Unavailable', detail, {
      headers: { 'Retry-After': String(retryAfterSeconds) },
    }),
  internal: () =>
    new Problem(500, 'internal_error', 'Internal Server Error', 'Something went wrong on our side.'),
};

export function sendProblem(res: Response, problem: Problem): void {
  res.status(problem.status);
  for (const [k, v] of Object.entries(problem.headers)) res.setHeader(k, v);
  res.type('application/problem+json').send(JSON.stringify(problem.toJSON()));
}

/** Maps errors from body parsers and our own code to problem documents; never leaks a stack. */
export function problemErrorHandler(onUnexpected: (err: unknown) => void): ErrorRequestHandler {
  return (err, _req, res, _next) => {
    const problem = toProblem(err);
    if (problem.status >= 500 && problem.status !== 503) onUnexpected(err);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendProblem(res, problem);
  };
}

function toProblem(err: unknown): Problem {
  if (err instanceof Problem) return err;
  // What the packages' lifecycles say, in HTTP.
  if (err instanceof InputError) return problems.validation([{ field: err.field, message: err.message }]);
  if (err instanceof ConflictError) return problems.conflict(err.code, err.message);
  if (err instanceof NotFoundError) return problems.notFound(err.message);
  if (err instanceof TooLargeError) return problems.payloadTooLarge(err.limit);
  if (isDatabaseUnavailable(err)) {
    return problems.unavailable('The database is unavailable (restarting or unreachable); retry shortly.');
  }
  if (err instanceof StorageUnavailableError) {
    return new Problem(
      503,
      'storage_unavailable',
      'Service Unavailable',
      'The blob store is unavailable; retry shortly.',
      {
        headers: { 'Retry-After': '5' },
      },
    );
  }
  if (err instanceof IdempotencyError) {
    return err.code === 'idempotency_key_reused'
      ? problems.unprocessable(err.code, err.message)
      : problems.conflict(err.code, err.message);
  }
  const e = err as { type?: string; status?: number; limit?: number; message?: string };
  switch (e?.type) {
    case 'entity.too.large':
      return problems.payloadTooLarge(e.limit ?? 0);
    case 'entity.parse.failed':
      return problems.badRequest('malformed_json', 'The request body is not valid JSON.');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return problems.unsupportedMediaType(e.message ?? 'Unsupported encoding.');
  }
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    return new Problem(e.status, 'bad_request', 'Bad Request', e.message);
  }
  return problems.internal();
}
