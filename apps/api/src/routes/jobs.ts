import { type Pool, queryOne, withTransaction } from '@imgkit/db';
import { checkPublicUrl } from '@imgkit/fetch';
import { isId, newId } from '@imgkit/ids';
import { type ImageRow, imageQueries, rawJsonMember } from '@imgkit/images';
import { type JobRow, jobInputKey, jobJson, jobQueries as Q, RENDER_JOB } from '@imgkit/jobs';
import { enqueue } from '@imgkit/queue';
import type { BlobStore } from '@imgkit/storage';
import { type Request, type Response, Router } from 'express';
import {
  claimIdempotencyKey,
  finishIdempotencyKey,
  releaseIdempotencyKey,
  requestHash,
  sendStoredResponse,
  validateIdempotencyKey,
} from '../idempotency.ts';
import { principalOf } from '../middleware/auth.ts';
import { problems } from '../problem.ts';
import { CreateJob, JobAccepted, JobSchema } from '../schemas/jobs.ts';
import { bearerAuth, fieldErrors, problemResponses, registry, z } from '../schemas/zod.ts';
import { sendBlob } from '../send-blob.ts';

export interface JobsRouteDeps {
  pool: Pool;
  storage: BlobStore;
  maxUploadBytes: number;
  maxPassthroughBytes: number;
  maxOutputSide: number;
  allowPrivateNetworks: boolean;
  maxAttempts: number;
}

const EXT: Record<string, string> = { jpeg: 'jpg', png: 'png', webp: 'webp', avif: 'avif', gif: 'gif' };

export function jobsRouter(deps: JobsRouteDeps): Router {
  const router = Router();

  router.post('/v1/jobs', async (req, res) => {
    const idempotencyKey = validateIdempotencyKey(req.get('Idempotency-Key'));
    const { accountId } = principalOf(res);
    if (!(req.get('Content-Type') ?? '').toLowerCase().startsWith('application/json')) {
      throw problems.unsupportedMediaType('Send the job as JSON.');
    }
    const raw = (req as Request & { rawBody?: Buffer }).rawBody?.toString('utf8') ?? '';
    const parsed = CreateJob.safeParse(req.body);
    if (!parsed.success) throw problems.validation(fieldErrors(parsed.error));
    const body = parsed.data;
    for (const [field, v] of [
      ['width', body.width],
      ['height', body.height],
    ] as const) {
      if (v !== undefined && v > deps.maxOutputSide) {
        throw problems.validation([{ field, message: `must be at most ${deps.maxOutputSide}` }]);
      }
    }
    if (body.webhook_url) await checkTarget(body.webhook_url, 'webhook_url');
    if (body.url) await checkTarget(body.url, 'url');
    const passthrough = rawJsonMember(raw, 'passthrough') ?? null;
    if (passthrough && Buffer.byteLength(passthrough) > deps.maxPassthroughBytes) {
      throw problems.validation([
        { field: 'passthrough', message: `must be at most ${deps.maxPassthroughBytes} bytes` },
      ]);
    }
    if (body.image_id) await requireStoredImage(body.image_id, accountId, 'image_id');
    let watermarkKey: string | null = null;
    if (body.watermark?.image_id) {
      watermarkKey = (await requireStoredImage(body.watermark.image_id, accountId, 'watermark.image_id'))
        .storage_key;
    }
    const jobId = newId('job');
    let inputKey: string | null = null;
    if (body.image_data !== undefined) inputKey = await storeInlineImage(body.image_data, accountId, jobId);

    // What the job does (stored as its parameters); inputs and delivery are columns of their own.
    const params = {
      operation: body.operation,
      width: body.width,
      height: body.height,
      fit: body.fit,
      output_format: body.output_format,
      quality: body.quality,
      enlarge: body.enlarge,
      keep_metadata: body.keep_metadata,
      watermark: body.watermark,
    };
    if (watermarkKey)
      Object.assign(params, { watermark: { ...params.watermark, image_storage_key: watermarkKey } });
    if (idempotencyKey) {
      const claim = await claimIdempotencyKey(
        deps.pool,
        accountId,
        idempotencyKey,
        requestHash(['job', raw]),
      );
      if (claim.kind === 'replay') {
        if (inputKey) await deps.storage.delete(inputKey).catch(() => undefined);
        sendStoredResponse(res, claim.response);
        return;
      }
    }
    try {
      const location = `/v1/jobs/${jobId}`;
      const answer = JSON.stringify({
        job_id: jobId,
        status: 'pending',
        message: `Job accepted; poll ${location} or wait for the job.completed webhook.`,
      });
      await withTransaction(deps.pool, async (tx) => {
        await queryOne<JobRow>(tx, Q.insert, [
          jobId,
          accountId,
          body.operation,
          params,
          body.image_id ?? null,
          body.url ?? null,
          inputKey,
          body.webhook_url ?? null,
          passthrough,
        ]);
        await enqueue(tx, {
          kind: RENDER_JOB,
          payload: { job_id: jobId },
          subjectId: jobId,
          maxAttempts: deps.maxAttempts,
        });
        if (idempotencyKey) {
          await finishIdempotencyKey(tx, accountId, idempotencyKey, {
            status: 202,
            headers: { Location: location },
            body: answer,
          });
        }
      });
      res.status(202).location(location).type('application/json').send(answer);
    } catch (err) {
      if (idempotencyKey)
        await releaseIdempotencyKey(deps.pool, accountId, idempotencyKey).catch(() => undefined);
      if (inputKey) await deps.storage.delete(inputKey).catch(() => undefined);
      throw err;
    }
  });

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
    if (!isId('job', id)) throw problems.notFound(`No job ${JSON.stringify(id)}.`);
    const row = await queryOne<JobRow>(deps.pool, Q.get, [id, principalOf(res).accountId]);
    if (!row) throw problems.notFound(`No job ${JSON.stringify(id)}.`);
    return row;
  }

  async function checkTarget(url: string, field: string) {
    const verdict = await checkPublicUrl(url, { allowPrivateNetworks: deps.allowPrivateNetworks });
    if (!verdict.ok) throw problems.validation([{ field, message: verdict.reason }]);
  }

  async function requireStoredImage(id: string, accountId: string, field: string): Promise<ImageRow> {
    const row = isId('image', id)
      ? await queryOne<ImageRow>(deps.pool, imageQueries.get, [id, accountId])
      : undefined;
    if (!row) throw problems.validation([{ field, message: 'no such image' }]);
    if (!row.storage_key)
      throw problems.conflict('image_not_ready', `Image ${id} has no stored original yet.`);
    return row;
  }

  /** base64 is checked for size from its length before a single byte is decoded. */
  async function storeInlineImage(data: string, accountId: string, jobId: string): Promise<string> {
    const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
    const decodedLength = Math.floor((data.length * 3) / 4) - padding;
    if (decodedLength > deps.maxUploadBytes) throw problems.payloadTooLarge(deps.maxUploadBytes);
    if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(data) || data.length === 0) {
      throw problems.validation([{ field: 'image_data', message: 'must be base64' }]);
    }
    const key = jobInputKey(accountId, jobId);
    await deps.storage.putBuffer(key, Buffer.from(data, 'base64'));
    return key;
  }

  return router;
}

const security = [{ [bearerAuth.name]: [] }];
const IdParam = z.object({ id: z.string() });

registry.registerPath({
  method: 'post',
  path: '/v1/jobs',
  summary: 'Transform an image (resize, thumbnail, cover, convert; optional watermark)',
  security,
  request: { body: { content: { 'application/json': { schema: CreateJob } } } },
  responses: {
    202: { description: 'Accepted', content: { 'application/json': { schema: JobAccepted } } },
    ...problemResponses(400, 401, 409, 413, 415, 422, 429),
  },
});
registry.registerPath({
  method: 'get',
  path: '/v1/jobs/{id}',
  summary: 'Job status with input, output and error',
  security,
  request: { params: IdParam },
  responses: {
    200: { description: 'The job', content: { 'application/json': { schema: JobSchema } } },
    ...problemResponses(401, 404, 429),
  },
});
registry.registerPath({
  method: 'get',
  path: '/v1/jobs/{id}/download',
  summary: 'The output bytes',
  security,
  request: { params: IdParam },
  responses: {
    200: { description: 'The rendered image', content: { 'image/*': { schema: z.string() } } },
    ...problemResponses(401, 404, 409, 429),
  },
});
