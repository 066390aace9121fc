import { authenticateApiKey, type Principal, touchApiKey } from '@imgkit/auth';
import type { Pool } from '@imgkit/db';
import type { NextFunction, Request, Response } from 'express';
import { problems } from '../problem.ts';

const REASONS = {
  malformed: 'The API key is malformed.',
  unknown: 'The API key is not valid.',
  revoked: 'The API key has been revoked.',
} as const;

/** Bearer API key authentication for /v1; puts the principal on res.locals. */
export function requireApiKey(deps: { pool: Pool; secretKey: string; onError: (err: unknown) => void }) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const header = req.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) {
      throw problems.unauthorized(
        header ? 'Use "Authorization: Bearer <key>".' : 'Send an API key: "Authorization: Bearer <key>".',
      );
    }
    const result = await authenticateApiKey(deps.pool, deps.secretKey, match[1]);
    if (!result.ok) throw problems.unauthorized(REASONS[result.reason]);
    res.locals.principal = result.principal;
    // Not awaited: a bookkeeping write must not slow or fail the request.
    touchApiKey(deps.pool, result.principal.keyId).catch(deps.onError);
    next();
  };
}

export function principalOf(res: Response): Principal {
  return res.locals.principal as Principal;
}
