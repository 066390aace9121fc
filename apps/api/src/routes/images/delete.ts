import type { Pool } from '@imgkit/db';
import { isId } from '@imgkit/ids';
import { deleteImage } from '@imgkit/images';
import type { BlobStore } from '@imgkit/storage';
import { Router } from 'express';
import { principalOf } from '../../middleware/auth.ts';
import { problems } from '../../problem.ts';

/** DELETE /v1/images/:id: idempotent; the row, its pending tasks and its blobs. */
export function deleteImageRoute(deps: { pool: Pool; storage: BlobStore }): Router {
  const router = Router();
  router.delete('/v1/images/:id', async (req, res) => {
    const id = String(req.params.id);
    if (!isId('image', id)) throw problems.notFound();
    await deleteImage(deps, id, principalOf(res).accountId);
    res.status(204).end();
  });
  return router;
}
