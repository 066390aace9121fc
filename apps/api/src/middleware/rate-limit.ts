import { type RateDecision, RateLimiter } from '@imgkit/auth';
import type { Pool } from '@imgkit/db';
import type { NextFunction, Request, Response } from 'express';
import { problems } from '../problem.ts';
import { principalOf } from './auth.ts';

/** RATE_LIMIT_PER_MINUTE per API key, with the RateLimit-* headers; 0 turns it off. */
export function rateLimit(deps: { pool: Pool; perMinute: number }) {
  const limiter = new RateLimiter(deps.pool, { perMinute: deps.perMinute });
  const answer = (res: Response, next: NextFunction, d: RateDecision) => {
    const { allowed, remaining, resetSeconds } = d;
    res.setHeader('RateLimit-Limit', String(deps.perMinute));
    res.setHeader('RateLimit-Remaining', String(remaining));
    res.setHeader('RateLimit-Reset', String(resetSeconds));
    res.setHeader('RateLimit-Policy', `${deps.perMinute};w=60`);
    if (!allowed) throw problems.rateLimited(resetSeconds);
    next();
  };
  return (_req: Request, res: Response, next: NextFunction) => {
    if (deps.perMinute === 0) return next();
    const keyId = principalOf(res).keyId;
    // Usually this process holds a reserved request: answered at once, no promise.
    const local = limiter.hitLocally(keyId);
    if (local) return answer(res, next, local);
    return limiter.hit(keyId).then((d) => answer(res, next, d));
  };
}
