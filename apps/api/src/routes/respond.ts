import { isValidIdempotencyKey, type StoredResponse } from '@imgkit/idempotency';
import type { Request, Response } from 'express';
import { problems } from '../problem.ts';

/** The Idempotency-Key header, validated; undefined when absent. */
export function idempotencyKeyOf(req: Request): string | undefined {
  const key = req.get('Idempotency-Key');
  if (key === undefined) return undefined;
  if (!isValidIdempotencyKey(key)) {
    throw problems.badRequest(
      'invalid_idempotency_key',
      'Idempotency-Key must be 1–255 visible ASCII characters.',
    );
  }
  return key;
}

/** Sends what a create returned; a replay of an earlier request is marked as such. */
export function sendCreated(res: Response, created: { response: StoredResponse; replayed: boolean }): void {
  const { response } = created;
  res.status(response.status).set(response.headers);
  if (created.replayed) res.set('Idempotent-Replayed', 'true');
  res.type('application/json').send(response.body);
}

/** The raw request body (kept by the JSON parser) as text. */
export function rawBodyOf(req: Request): string {
  return (req as Request & { rawBody?: Buffer }).rawBody?.toString('utf8') ?? '';
}
