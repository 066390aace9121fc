import type { Pool } from '@imgkit/db';
import { isId } from '@imgkit/ids';
import { getJob, type JobRow, jobJson } from '@imgkit/jobs';
import type { BlobStore } from '@imgkit/storage';
import { type Request, type Response, Router } from 'express';
import { principalOf } from '../../middleware/auth.ts';
import { problems } from '../../problem.ts';
import { sendBlob } from '../../send-blob.ts';

const EXT: Record<string, string> = { jpeg: 'jpg', png: 'png', webp: 'webp', avif: 'avif', gif: 'gif' };

/** GET /v1/jobs/:id and its output. */
export function readJobRoutes(deps: { pool: Pool; storage: BlobStore }): Router {
  const router = Router();

  router.get('/v1/jobs/:id', async (req, res) => {
    res.type('application/json').send(jobJson(await findJob(req, res)));
  });

  router.get('/v1/jobs/:id/download', async (req, res) => {
    const job = await findJob(req, res);
    if (job.status !== 'completed' || !job.output_storage_key) {
      throw problems.conflict(
        'job_not_completed',
        `The job is ${job.status}; there is nothing to download yet.`,
      );
    }
    const etag = `"${job.output_checksum}"`;
    res.setHeader('ETag', etag);
    if (req.get('If-None-Match') === etag) {
      res.status(304).end();
      return;
    }
    await sendBlob(
      res,
      deps.storage,
      job.output_storage_key,
      {
        'Content-Type': `image/${job.output_format}`,
        'Content-Disposition': `attachment; filename="${job.id}.${EXT[job.output_format ?? ''] ?? 'bin'}"`,
      },
      'output',
    );
  });

  async function findJob(req: Request, res: Response): Promise<JobRow> {
    const id = String(req.params.id);
    const row = isId('job', id) ? await getJob(deps.pool, id, principalOf(res).accountId) : undefined;
    if (!row) throw problems.notFound(`No job ${JSON.stringify(id)}.`);
    return row;
  }

  return router;
}
