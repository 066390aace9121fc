import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { UrlsBody } from '../schemas/signed-urls.ts';
import { bearerAuth, problemResponses, z } from '../schemas/zod.ts';

export function registerSignedUrlPaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'post',
    path: '/v1/images/{id}/urls',
    summary: 'Signed on-the-fly URLs for the given renderings',
    security: [{ [bearerAuth.name]: [] }],
    request: {
      params: z.object({ id: z.string() }),
      body: { content: { 'application/json': { schema: UrlsBody } } },
    },
    responses: {
      200: {
        description: 'The URLs (relative to the API base)',
        content: {
          'application/json': {
            schema: z.object({
              image_id: z.string(),
              urls: z.array(z.object({ url: z.string(), expires_at: z.number().nullable() })),
            }),
          },
        },
      },
      ...problemResponses(400, 401, 404, 429, 503),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/i/{signature}/{options}/{file}',
    summary: 'A rendering by signed URL (no API key; cacheable forever)',
    request: { params: z.object({ signature: z.string(), options: z.string(), file: z.string() }) },
    responses: {
      200: { description: 'The image', content: { 'image/*': { schema: z.string() } } },
      304: { description: 'Not modified' },
      403: {
        description: 'Bad signature',
        content: { 'application/problem+json': { schema: z.object({}) } },
      },
      410: { description: 'Expired', content: { 'application/problem+json': { schema: z.object({}) } } },
    },
  });
}
