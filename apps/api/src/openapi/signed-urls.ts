import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { PresetList, PurgeResult, UrlsBody } from '../schemas/signed-urls.ts';
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
              rendition_version: z.number().int(),
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
    path: '/v1/presets',
    summary: 'The named presets signed URLs can use (p:<name>), and whether only presets are accepted',
    security: [{ [bearerAuth.name]: [] }],
    responses: {
      200: { description: 'The presets', content: { 'application/json': { schema: PresetList } } },
      ...problemResponses(401, 429, 503),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/images/{id}/purge',
    summary:
      'Drop the image’s renderings from every api process’s cache and bump its rendition version (URLs made since differ; older ones keep working)',
    security: [{ [bearerAuth.name]: [] }],
    request: { params: z.object({ id: z.string() }) },
    responses: {
      200: { description: 'Purged', content: { 'application/json': { schema: PurgeResult } } },
      ...problemResponses(401, 404, 429, 503),
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
      400: {
        description: 'presets_only (SIGNED_URLS_PRESETS_ONLY and options besides p:) or unknown_preset',
        content: { 'application/problem+json': { schema: z.object({}) } },
      },
      403: {
        description: 'Bad signature',
        content: { 'application/problem+json': { schema: z.object({}) } },
      },
      410: { description: 'Expired', content: { 'application/problem+json': { schema: z.object({}) } } },
    },
  });
}
