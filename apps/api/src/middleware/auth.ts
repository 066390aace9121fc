import { authenticateApiKey, type Principal, touchApiKey } from '@imgkit/auth';
import type { Pool } from '@imgkit/db';
import type { NextFunction, Request, Response } from 'express';
import { problems } from '../problem.ts';

const REASONS = {
  malformed: 'The API key is malformed.',
  unknown: 'The API key is not valid.',
  revoked: 'The API key has been revoked.',
} as const;

/**
 * Bearer API key authentication for /v1; puts the principal on res.locals.
 * Valid keys are remembered for `cacheMs` (default 5 s) so the hot path does
 * not hit the database on every request; a revocation takes effect within
 * that time in every api process. Invalid keys are never cached.
 */
export function requireApiKey(deps: {
  pool: Pool;
  secretKey: string;
  onError: (err: unknown) => void;
  cacheMs?: number;
}) {
  const cacheMs = deps.cacheMs ?? 5000;
  const cache = new Map<string, { principal: Principal; until: number }>();
  const lookUp = async (key: string, res: Response, next: NextFunction) => {
    const result = await authenticateApiKey(deps.pool, deps.secretKey, key);
    if (!result.ok) throw problems.unauthorized(REASONS[result.reason]);
    res.locals.principal = result.principal;
    if (cacheMs > 0) {
      if (cache.size >= 10_000) cache.clear();
      cache.set(key, { principal: result.principal, until: Date.now() + cacheMs });
    }
    // Not awaited: a bookkeeping write must not slow or fail the request.
    touchApiKey(deps.pool, result.principal.keyId).catch(deps.onError);
    next();
  };
  // Not an async function: a remembered key is answered without a promise.
  return (req: Request, res: Response, next: NextFunction) => {
    const header = req.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) {
      throw problems.unauthorized(
        header ? 'Use "Authorization: Bearer <key>".' : 'Send an API key: "Authorization: Bearer <key>".',
      );
    }
    const key = match[1];
    const hit = cache.get(key);
    if (hit && hit.until > Date.now()) {
      res.locals.principal = hit.principal;
      return next();
    }
    return lookUp(key, res, next);
  };
}

export function principalOf(res: Response): Principal {
  return res.locals.principal as Principal;
}
