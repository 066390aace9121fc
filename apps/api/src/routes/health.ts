import { type Pool, ping } from '@imgkit/db';
import type { BlobStore } from '@imgkit/storage';
import { Router } from 'express';
import { Problem, sendProblem } from '../problem.ts';

const RETRY = { headers: { 'Retry-After': '5' } };

export function healthRouter(deps: {
  pool: Pool;
  storage: BlobStore;
  isShuttingDown: () => boolean;
}): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  // Ready means: not draining, the database answers within a second and the blob store
  // (S3: one LIST of at most one key) within two.
  router.get('/readyz', async (_req, res) => {
    if (deps.isShuttingDown()) {
      sendProblem(
        res,
        new Problem(503, 'shutting_down', 'Service Unavailable', 'This process is draining.', RETRY),
      );
      return;
    }
    try {
      await withTimeout(ping(deps.pool), 1000);
    } catch {
      sendProblem(
        res,
        new Problem(
          503,
          'database_unavailable',
          'Service Unavailable',
          'The database does not answer.',
          RETRY,
        ),
      );
      return;
    }
    try {
      await withTimeout(deps.storage.ping(), 2000);
    } catch {
      sendProblem(
        res,
        new Problem(
          503,
          'storage_unavailable',
          'Service Unavailable',
          'The blob store does not answer.',
          RETRY,
        ),
      );
      return;
    }
    res.json({ status: 'ready', database: 'ok', storage: 'ok' });
  });
  return router;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout')), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
