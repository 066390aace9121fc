import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { CreateJob, JobAccepted, JobSchema } from '../schemas/jobs.ts';
import { bearerAuth, problemResponses, z } from '../schemas/zod.ts';

const security = [{ [bearerAuth.name]: [] }];
const IdParam = z.object({ id: z.string() });

export function registerJobPaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'post',
    path: '/v1/jobs',
    summary: 'Transform an image (resize, thumbnail, cover, convert; optional watermark)',
    security,
    request: { body: { content: { 'application/json': { schema: CreateJob } } } },
    responses: {
      202: { description: 'Accepted', content: { 'application/json': { schema: JobAccepted } } },
      ...problemResponses(400, 401, 409, 413, 415, 422, 429, 503),
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
      ...problemResponses(401, 404, 429, 503),
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
      ...problemResponses(401, 404, 409, 429, 503),
    },
  });
}
