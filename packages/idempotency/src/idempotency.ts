import { createHash } from 'node:crypto';
import { type Pool, type Queryable, query, queryOne, sql, withTransaction } from '@imgkit/db';

/**
 * Idempotency-Key handling (SPEC §5): the first request with a key claims it
 * (an in-flight row), does its work, and stores its response in the same
 * transaction as its effects; a repeat with the same body gets the stored
 * response, with a different body `idempotency_key_reused`, and while the first
 * is in flight `idempotency_key_in_flight`.
 */
const claimSql = sql(
  'idempotency.claim',
  `INSERT INTO idempotency_keys (account_id, key, request_hash) VALUES ($1, $2, $3)
   ON CONFLICT (account_id, key) DO NOTHING RETURNING key`,
);
// A key older than 24 h is forgotten: delete it so it can be claimed afresh.
const expireSql = sql(
  'idempotency.expire',
  `DELETE FROM idempotency_keys WHERE account_id = $1 AND key = $2 AND created_at < now() - interval '24 hours'`,
);
// A claim whose request never stored a response (the api process died mid-request) is
// abandoned after IN_FLIGHT_SECONDS; the next request with the key takes it over instead of
// answering 409 for the rest of the day.
const IN_FLIGHT_SECONDS = 300;
const takeOverSql = sql(
  'idempotency.take_over',
  `UPDATE idempotency_keys SET request_hash = $3, created_at = now()
   WHERE account_id = $1 AND key = $2 AND response_status IS NULL
     AND created_at < now() - make_interval(secs => ${IN_FLIGHT_SECONDS})
   RETURNING key`,
);
const pruneSql = sql(
  'idempotency.prune',
  `DELETE FROM idempotency_keys WHERE ctid IN (
     SELECT ctid FROM idempotency_keys WHERE created_at < now() - interval '24 hours' LIMIT 1000
   )`,
);

/** Deletes keys older than their 24 hours, in batches; returns how many. */
export async function pruneIdempotencyKeys(db: Queryable): Promise<number> {
  let total = 0;
  for (;;) {
    const r = await db.query({ name: pruneSql.name, text: pruneSql.text });
    total += r.rowCount ?? 0;
    if ((r.rowCount ?? 0) < 1000) return total;
  }
}

const getSql = sql(
  'idempotency.get',
  `SELECT request_hash, response_status, response_headers, response_body
   FROM idempotency_keys WHERE account_id = $1 AND key = $2`,
);
const finishSql = sql(
  'idempotency.finish',
  `UPDATE idempotency_keys SET response_status = $3, response_headers = $4, response_body = $5
   WHERE account_id = $1 AND key = $2`,
);
const releaseSql = sql(
  'idempotency.release',
  'DELETE FROM idempotency_keys WHERE account_id = $1 AND key = $2',
);

export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The request a key names: who sent it, the key, and a hash of what was sent. */
export interface IdempotencyScope {
  accountId: string;
  key: string;
  requestHash: string;
}

export class IdempotencyError extends Error {
  override name = 'IdempotencyError';
  readonly code: 'idempotency_key_reused' | 'idempotency_key_in_flight';

  constructor(code: 'idempotency_key_reused' | 'idempotency_key_in_flight', message: string) {
    super(message);
    this.code = code;
  }
}

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** 1–255 visible ASCII characters. */
export function isValidIdempotencyKey(key: string): boolean {
  return KEY_PATTERN.test(key);
}

export function requestHash(parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex');
}

type Claim = { kind: 'new' } | { kind: 'replay'; response: StoredResponse };

async function claim(pool: Pool, scope: IdempotencyScope): Promise<Claim> {
  const { accountId, key, requestHash: hash } = scope;
  await query(pool, expireSql, [accountId, key]);
  if (await queryOne(pool, claimSql, [accountId, key, hash])) return { kind: 'new' };
  if (await queryOne(pool, takeOverSql, [accountId, key, hash])) return { kind: 'new' };
  const row = await queryOne<{
    request_hash: string;
    response_status: number | null;
    response_headers: Record<string, string> | null;
    response_body: string | null;
  }>(pool, getSql, [accountId, key]);
  if (!row) return claim(pool, scope); // expired between the two statements
  if (row.request_hash !== hash) {
    throw new IdempotencyError(
      'idempotency_key_reused',
      'This Idempotency-Key was used with a different request body.',
    );
  }
  if (row.response_status === null) {
    throw new IdempotencyError(
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

export interface CreateSteps {
  /** Writes the resource (and its task) inside the transaction and returns the response to send. */
  inTransaction: (tx: Queryable) => Promise<StoredResponse>;
  /**
   * The same without a key, when it can be done in one autocommit statement
   * (the hot path); defaults to `inTransaction` in a transaction of its own.
   */
  withoutKey?: () => Promise<StoredResponse>;
  /** Undoes what was done before the call (bytes already stored), on a replay or a failure. */
  discard?: () => Promise<void>;
}

/**
 * The idempotent-create sequence, written once for every resource created by POST:
 * claim the key, create the resource and store the response in one transaction, or
 * answer the stored response of the first request (`replayed`). A failure releases
 * the key, so the client can retry with it, and discards what was prepared.
 */
export async function idempotentCreate(
  pool: Pool,
  scope: IdempotencyScope | undefined,
  steps: CreateSteps,
): Promise<{ response: StoredResponse; replayed: boolean }> {
  const discard = () => steps.discard?.().catch(() => undefined);
  if (!scope) {
    try {
      const response = steps.withoutKey
        ? await steps.withoutKey()
        : await withTransaction(pool, steps.inTransaction);
      return { response, replayed: false };
    } catch (err) {
      await discard();
      throw err;
    }
  }
  let claimed: Claim;
  try {
    claimed = await claim(pool, scope);
  } catch (err) {
    await discard();
    throw err;
  }
  if (claimed.kind === 'replay') {
    await discard();
    return { response: claimed.response, replayed: true };
  }
  try {
    const response = await withTransaction(pool, async (tx) => {
      const r = await steps.inTransaction(tx);
      await query(tx, finishSql, [scope.accountId, scope.key, r.status, r.headers, r.body]);
      return r;
    });
    return { response, replayed: false };
  } catch (err) {
    await query(pool, releaseSql, [scope.accountId, scope.key]).catch(() => undefined);
    await discard();
    throw err;
  }
}
