import { createHash } from 'node:crypto';
import { type Pool, type Queryable, query, queryOne, sql } from '@imgkit/db';
import type { Response } from 'express';
import { Problem, problems } from './problem.ts';

/**
 * Idempotency-Key handling (SPEC §5): the first request with a key claims it
 * (an in-flight row), does its work, and stores its response in the same
 * transaction as its effects; a repeat with the same body gets the stored
 * response, with a different body a 422, and while the first is in flight a 409.
 */
const Q = {
  claim: sql(
    'idempotency.claim',
    `INSERT INTO idempotency_keys (account_id, key, request_hash) VALUES ($1, $2, $3)
     ON CONFLICT (account_id, key) DO NOTHING RETURNING key`,
  ),
  // A key older than 24 h is forgotten: delete it so it can be claimed afresh.
  expire: sql(
    'idempotency.expire',
    `DELETE FROM idempotency_keys WHERE account_id = $1 AND key = $2 AND created_at < now() - interval '24 hours'`,
  ),
  get: sql(
    'idempotency.get',
    `SELECT request_hash, response_status, response_headers, response_body
     FROM idempotency_keys WHERE account_id = $1 AND key = $2`,
  ),
  finish: sql(
    'idempotency.finish',
    `UPDATE idempotency_keys SET response_status = $3, response_headers = $4, response_body = $5
     WHERE account_id = $1 AND key = $2`,
  ),
  release: sql('idempotency.release', 'DELETE FROM idempotency_keys WHERE account_id = $1 AND key = $2'),
};

export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type Claim = { kind: 'new' } | { kind: 'replay'; response: StoredResponse };

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export function validateIdempotencyKey(key: string | undefined): string | undefined {
  if (key === undefined) return undefined;
  if (!KEY_PATTERN.test(key)) {
    throw problems.badRequest(
      'invalid_idempotency_key',
      'Idempotency-Key must be 1–255 visible ASCII characters.',
    );
  }
  return key;
}

export function requestHash(parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex');
}

export async function claimIdempotencyKey(
  pool: Pool,
  accountId: string,
  key: string,
  hash: string,
): Promise<Claim> {
  await query(pool, Q.expire, [accountId, key]);
  if (await queryOne(pool, Q.claim, [accountId, key, hash])) return { kind: 'new' };
  const row = await queryOne<{
    request_hash: string;
    response_status: number | null;
    response_headers: Record<string, string> | null;
    response_body: string | null;
  }>(pool, Q.get, [accountId, key]);
  if (!row) return claimIdempotencyKey(pool, accountId, key, hash); // expired between the two statements
  if (row.request_hash !== hash) {
    throw problems.unprocessable(
      'idempotency_key_reused',
      'This Idempotency-Key was used with a different request body.',
    );
  }
  if (row.response_status === null) {
    throw problems.conflict(
      'idempotency_key_in_flight',
      'A request with this Idempotency-Key is still in progress.',
    );
  }
  return {
    kind: 'replay',
    response: {
      status: row.response_status,
      headers: row.response_headers ?? {},
      body: row.response_body ?? '',
    },
  };
}

/** Stores the response inside the caller's transaction, so it commits with the effects. */
export async function finishIdempotencyKey(
  tx: Queryable,
  accountId: string,
  key: string,
  response: StoredResponse,
): Promise<void> {
  await query(tx, Q.finish, [accountId, key, response.status, response.headers, response.body]);
}

/** Forgets a claimed key when the request failed, so the client can retry with it. */
export async function releaseIdempotencyKey(pool: Pool, accountId: string, key: string): Promise<void> {
  await query(pool, Q.release, [accountId, key]);
}

export function isStorableFailure(err: unknown): err is Problem {
  return err instanceof Problem && err.status < 500;
}

/** Answers with the stored response of the first request, marked as a replay. */
export function sendStoredResponse(res: Response, response: StoredResponse): void {
  res.status(response.status).set(response.headers).set('Idempotent-Replayed', 'true');
  res.type('application/json').send(response.body);
}
