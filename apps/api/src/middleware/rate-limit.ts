import { type Pool, queryOne, sql } from '@imgkit/db';
import type { NextFunction, Request, Response } from 'express';
import { problems } from '../problem.ts';
import { principalOf } from './auth.ts';

// Fixed one-minute windows shared by every api process through PostgreSQL.
// One upsert per request; see docs/decisions.md for the trade-off.
const hit = sql(
  'rate_limit.hit',
  `INSERT INTO rate_limit_windows AS w (key_id, window_start, count)
   VALUES ($1, date_trunc('minute', now()), 1)
   ON CONFLICT (key_id, window_start) DO UPDATE SET count = w.count + 1
   RETURNING count, ceil(extract(epoch FROM w.window_start + interval '1 minute' - now()))::int AS reset_seconds`,
);

export function rateLimit(deps: { pool: Pool; perMinute: number }) {
  return async (_req: Request, res: Response, next: NextFunction) => {
    if (deps.perMinute === 0) return next();
    const { keyId } = principalOf(res);
    const row = await queryOne<{ count: number; reset_seconds: number }>(deps.pool, hit, [keyId]);
    const count = row!.count;
    const reset = Math.max(1, row!.reset_seconds);
    res.setHeader('RateLimit-Limit', String(deps.perMinute));
    res.setHeader('RateLimit-Remaining', String(Math.max(0, deps.perMinute - count)));
    res.setHeader('RateLimit-Reset', String(reset));
    res.setHeader('RateLimit-Policy', `${deps.perMinute};w=60`);
    if (count > deps.perMinute) throw problems.rateLimited(reset);
    next();
  };
}
