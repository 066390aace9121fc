import type { Pool } from '@imgkit/db';
import { imageJson, similarImages } from '@imgkit/images';
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
    const rows = await similarImages(deps.pool, row, {
      maxDistance: parsed.data.max_distance,
      limit: parsed.data.limit,
    });
    const data = rows.map((r) => `{"distance":${r.distance},"image":${imageJson(r)}}`);
    res.type('application/json').send(`{"object":"list","data":[${data.join(',')}],"has_more":false}`);
  });

  return router;
}
