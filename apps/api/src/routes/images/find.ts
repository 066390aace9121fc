import type { Pool } from '@imgkit/db';
import { isId } from '@imgkit/ids';
import { getImage, type ImageRow } from '@imgkit/images';
import type { Request, Response } from 'express';
import { principalOf } from '../../middleware/auth.ts';
import { problems } from '../../problem.ts';

/** The caller's image named by `:id`, or a 404 problem. */
export async function findImage(pool: Pool, req: Request, res: Response): Promise<ImageRow> {
  const id = String(req.params.id);
  const row = isId('image', id) ? await getImage(pool, id, principalOf(res).accountId) : undefined;
  if (!row) throw problems.notFound(`No image ${JSON.stringify(id)}.`);
  return row;
}
