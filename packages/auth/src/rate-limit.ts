import { type Queryable, queryOne, sql } from '@imgkit/db';

// Fixed one-minute windows shared by every api process through PostgreSQL.
// One upsert per request; see docs/decisions.md for the trade-off.
const hitSql = sql(
  'rate_limit.hit',
  `INSERT INTO rate_limit_windows AS w (key_id, window_start, count)
   VALUES ($1, date_trunc('minute', now()), 1)
   ON CONFLICT (key_id, window_start) DO UPDATE SET count = w.count + 1
   RETURNING count, ceil(extract(epoch FROM w.window_start + interval '1 minute' - now()))::int AS reset_seconds`,
);

/** Counts one request of the key in the current minute; returns the count and seconds until the window resets. */
export async function countRequest(
  db: Queryable,
  keyId: string,
): Promise<{ count: number; resetSeconds: number }> {
  const row = await queryOne<{ count: number; reset_seconds: number }>(db, hitSql, [keyId]);
  return { count: row!.count, resetSeconds: Math.max(1, row!.reset_seconds) };
}

const pruneSql = sql(
  'rate_limit.prune',
  `DELETE FROM rate_limit_windows WHERE window_start < date_trunc('minute', now()) - interval '1 minute'`,
);

/** Windows that ended are never read again. */
export async function pruneRateWindows(db: Queryable): Promise<number> {
  const r = await db.query({ name: pruneSql.name, text: pruneSql.text });
  return r.rowCount ?? 0;
}
