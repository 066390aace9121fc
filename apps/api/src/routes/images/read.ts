import type { Pool } from '@imgkit/db';
import { imageJson, similarImages, similarListJson } from '@imgkit/images';
import { Router } from 'express';
import { problems } from '../../problem.ts';
import { SimilarQuery } from '../../schemas/images.ts';
import { fieldErrors } from '../../schemas/zod.ts';
import { findImage } from './find.ts';

/** GET /v1/images/:id and its near-duplicates. */
export function readImageRoutes(deps: { pool: Pool }): Router {
  const router = Router();

  router.get('/v1/images/:id', async (req, res) => {
    res.type('application/json').send(imageJson(await findImage(deps.pool, req, res)));
  });

  router.get('/v1/images/:id/similar', async (req, res) => {
    const row = await findImage(deps.pool, req, res);
    const parsed = SimilarQuery.safeParse(req.query);
    if (!parsed.success) throw problems.validation(fieldErrors(parsed.error));
    if (row.phash === null) {
      throw problems.conflict('no_phash', `The image is ${row.status} and has no pHash to compare.`);
    }
    const { hash, max_distance, limit } = parsed.data;
    // A flat image's hashes match every other flat image: it has no meaningful near-duplicates.
    const rows = row.hash_degenerate
      ? []
      : await similarImages(deps.pool, {
          accountId: row.account_id,
          phash: row.phash,
          dhash: row.dhash,
          hash,
          maxDistance: max_distance,
          limit,
          excludeId: row.id,
        });
    res.type('application/json').send(similarListJson(rows, hash, row.hash_degenerate));
  });

  return router;
}
