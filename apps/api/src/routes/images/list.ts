import type { Pool } from '@imgkit/db';
import { isId } from '@imgkit/ids';
import { imageListJson, listImages } from '@imgkit/images';
import { Router } from 'express';
import { principalOf } from '../../middleware/auth.ts';
import { problems } from '../../problem.ts';
import { ListImagesQuery } from '../../schemas/images.ts';
import { fieldErrors } from '../../schemas/zod.ts';

/** GET /v1/images: newest first, paged by cursor in either direction. */
export function listImagesRoute(deps: { pool: Pool }): Router {
  const router = Router();
  router.get('/v1/images', async (req, res) => {
    const parsed = ListImagesQuery.safeParse(req.query);
    if (!parsed.success) throw problems.validation(fieldErrors(parsed.error));
    const { limit, starting_after, ending_before, status, checksum } = parsed.data;
    if (starting_after && ending_before) {
      throw problems.validation([
        { field: 'ending_before', message: 'cannot be combined with starting_after' },
      ]);
    }
    for (const [field, value] of Object.entries({ starting_after, ending_before })) {
      if (value !== undefined && !isId('image', value)) {
        throw problems.validation([{ field, message: 'must be an image id (img_…)' }]);
      }
    }
    const page = await listImages(deps.pool, principalOf(res).accountId, {
      limit,
      startingAfter: starting_after,
      endingBefore: ending_before,
      status,
      checksum,
    });
    res.type('application/json').send(imageListJson(page.rows, page.hasMore));
  });
  return router;
}
