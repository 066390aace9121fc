import pg from 'pg';
import { types } from './timestamps.ts';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** Anything a named query can run on: the pool, or a client inside a transaction. */
export type Queryable = pg.Pool | pg.PoolClient | pg.Client;

export interface PoolOptions {
  connectionString: string;
  max?: number;
  applicationName?: string;
  /** Let the process exit while only idle clients remain (tests, CLI). */
  allowExitOnIdle?: boolean;
  /** Called for errors on idle clients (e.g. the server restarted); without it they would crash the process. */
  onError?: (err: Error) => void;
}

export function createPool(options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'imgkit',
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    allowExitOnIdle: options.allowExitOnIdle ?? false,
    types: types as pg.CustomTypesConfig,
  });
  pool.on('error', (err) => options.onError?.(err));
  return pool;
}

/** A SQL statement with a stable name, so PostgreSQL prepares it once per connection. */
export interface NamedQuery {
  readonly name: string;
  readonly text: string;
}

export function sql(name: string, text: string): NamedQuery {
  return Object.freeze({ name, text: text.trim() });
}

export async function query<R extends pg.QueryResultRow = Record<string, unknown>>(
  db: Queryable,
  q: NamedQuery,
  values: unknown[] = [],
): Promise<R[]> {
  const result = await db.query<R>({ name: q.name, text: q.text, values });
  return result.rows;
}

export async function queryOne<R extends pg.QueryResultRow = Record<string, unknown>>(
  db: Queryable,
  q: NamedQuery,
  values: unknown[] = [],
): Promise<R | undefined> {
  const rows = await query<R>(db, q, values);
  return rows[0];
}

/** Runs `fn` in one transaction on one client; rolls back on any throw. */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** SQLSTATE codes we branch on. */
export const PG_ERRORS = {
  uniqueViolation: '23505',
  adminShutdown: '57P01',
  cannotConnectNow: '57P03',
} as const;

export function pgErrorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err
    ? String((err as { code: unknown }).code)
    : undefined;
}

const pingSql = sql('db.ping', 'SELECT 1');

/** One round trip: does the database answer? */
export async function ping(db: Queryable): Promise<void> {
  await query(db, pingSql);
}

/**
 * SQLSTATEs and socket errors that mean "the database cannot be reached right now" (down,
 * starting up, shutting down, out of connections), as opposed to "the statement is wrong".
 * Callers retry these, and the api answers 503 with Retry-After instead of 500.
 */
const UNAVAILABLE = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up / shutting down)
  '53300', // too_many_connections
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
]);

export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string; errors?: unknown[] };
  if (e?.code && UNAVAILABLE.has(e.code)) return true;
  // node's AggregateError (IPv4 and IPv6 both refused) carries the codes in `errors`.
  if (Array.isArray(e?.errors) && e.errors.some(isDatabaseUnavailable)) return true;
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|the database system is (starting up|shutting down)/i.test(
    e?.message ?? '',
  );
}
