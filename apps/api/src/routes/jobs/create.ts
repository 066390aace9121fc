import { requestHash } from '@imgkit/idempotency';
import { newId } from '@imgkit/ids';
import { type CreateJobDeps, createJob, type NewJob } from '@imgkit/jobs';
import { rawJsonMember } from '@imgkit/json';
import { Router } from 'express';
import { principalOf } from '../../middleware/auth.ts';
import { problems } from '../../problem.ts';
import { CreateJob } from '../../schemas/jobs.ts';
import { fieldErrors } from '../../schemas/zod.ts';
import { idempotencyKeyOf, rawBodyOf, sendCreated } from '../respond.ts';

export interface CreateJobRouteDeps extends CreateJobDeps {
  maxPassthroughBytes: number;
  maxOutputSide: number;
}

/** POST /v1/jobs: one transformation of an image id, a URL or inline base64 bytes. */
export function createJobRoute(deps: CreateJobRouteDeps): Router {
  const router = Router();
  router.post('/v1/jobs', async (req, res) => {
    const key = idempotencyKeyOf(req);
    if (!(req.get('Content-Type') ?? '').toLowerCase().startsWith('application/json')) {
      throw problems.unsupportedMediaType('Send the job as JSON.');
    }
    const raw = rawBodyOf(req);
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
    const passthrough = rawJsonMember(raw, 'passthrough') ?? null;
    if (passthrough && Buffer.byteLength(passthrough) > deps.maxPassthroughBytes) {
      throw problems.validation([
        { field: 'passthrough', message: `must be at most ${deps.maxPassthroughBytes} bytes` },
      ]);
    }
    const input: NewJob['input'] =
      body.image_id !== undefined
        ? { imageId: body.image_id }
        : body.url !== undefined
          ? { url: body.url }
          : { base64: body.image_data! };
    const job: NewJob = {
      id: newId('job'),
      accountId: principalOf(res).accountId,
      params: {
        operation: body.operation,
        width: body.width,
        height: body.height,
        fit: body.fit,
        output_format: body.output_format,
        quality: body.quality,
        enlarge: body.enlarge,
        keep_metadata: body.keep_metadata,
        watermark: body.watermark,
      },
      input,
      webhookUrl: body.webhook_url ?? null,
      passthrough,
    };
    sendCreated(
      res,
      await createJob(deps, job, key ? { key, requestHash: requestHash(['job', raw]) } : undefined),
    );
  });
  return router;
}
