import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import type { FieldError } from '../problem.ts';

extendZodWithOpenApi(z);

export { z };

/** A schema that OpenAPI shows as a named component (`#/components/schemas/<name>`). */
export function named<T extends z.ZodType>(name: string, schema: T): T {
  return schema.openapi(name);
}

/** The security scheme every /v1 path uses (registered by openapi.ts). */
export const bearerAuth = {
  name: 'bearerAuth',
  scheme: { type: 'http', scheme: 'bearer', description: 'An API key: `ik_live_…`' },
} as const;

export const ProblemSchema = named(
  'Problem',
  z
    .object({
      type: z.string(),
      code: z.string().openapi({ example: 'validation_failed' }),
      title: z.string(),
      status: z.number().int(),
      detail: z.string().optional(),
      errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
      rule: z
        .string()
        .optional()
        .openapi({ description: 'rejected_by_rule: the account’s intake rule that refused the request' }),
    })
    .openapi({ description: 'RFC 9457 problem document' }),
);

export const problemResponses = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((s) => [
      String(s),
      {
        description: PROBLEM_DESCRIPTIONS[s] ?? 'Error',
        content: { 'application/problem+json': { schema: ProblemSchema } },
      },
    ]),
  );

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request',
  401: 'Missing, malformed, unknown or revoked API key',
  404: 'No such resource (or it belongs to another account)',
  409: 'Conflict (e.g. the same Idempotency-Key is still in flight)',
  413: 'Body too large',
  415: 'Unsupported media type',
  422: 'Idempotency-Key reused with a different body',
  429: 'Rate limited',
  503: 'A dependency (the database) is unavailable; retry after Retry-After seconds',
};

export const HttpUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http or https URL' })
  .max(2048, 'must be at most 2048 characters');

/** Turns a zod error into field errors that name the field, including unknown ones. */
export function fieldErrors(error: z.ZodError, prefix = ''): FieldError[] {
  return error.issues.flatMap((issue) => {
    const at = (...more: string[]) => prefix + [...issue.path.map(String), ...more].join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => ({ field: at(k), message: 'unknown field' }));
    }
    return [{ field: at() || '(body)', message: issue.message }];
  });
}
