import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import {
  CreateImageFromUrl,
  ImageIdParam,
  ImageList,
  ImageOptionFields,
  ImageSchema,
  ListImagesQuery,
  SearchImages,
  SearchQuery,
  SimilarQuery,
} from '../schemas/images.ts';
import { bearerAuth, problemResponses, z } from '../schemas/zod.ts';

const security = [{ [bearerAuth.name]: [] }];
const idempotencyHeader = z.object({
  'Idempotency-Key': z
    .string()
    .max(255)
    .optional()
    .openapi({ description: 'Replays the stored response for 24 h.' }),
});

export function registerImagePaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'post',
    path: '/v1/images',
    summary: 'Create an image from a URL or from its bytes',
    description:
      'JSON `{url, …}`; or `multipart/form-data` with the bytes in `file` (other options as fields); or the raw bytes as `image/*` with options as query parameters. Answers at once; the worker does the rest.',
    security,
    request: {
      headers: idempotencyHeader,
      query: ImageOptionFields.partial().openapi({
        description: 'With raw image/* bytes only: the options as query parameters.',
      }),
      body: {
        content: {
          'application/json': { schema: CreateImageFromUrl },
          'multipart/form-data': {
            schema: z
              .object({ file: z.string().openapi({ format: 'binary' }) })
              .extend(ImageOptionFields.shape),
          },
          'image/*': { schema: z.string().openapi({ format: 'binary' }) },
        },
      },
    },
    responses: {
      202: {
        description: 'Accepted; processing is queued',
        content: { 'application/json': { schema: ImageSchema } },
      },
      ...problemResponses(400, 401, 409, 413, 415, 422, 429, 503),
    },
  });

  const SimilarMatch = z.object({
    distance: z
      .number()
      .int()
      .openapi({ description: 'On the hash asked for; with both, the larger of the two' }),
    phash_distance: z.number().int(),
    dhash_distance: z.number().int().nullable(),
    image: ImageSchema,
  });

  registry.registerPath({
    method: 'post',
    path: '/v1/images/search',
    summary: 'Find the account’s near-duplicates of a hash or an image, storing nothing',
    description:
      'JSON with exactly one of `phash` (and `dhash`), `url` or `image_data` (base64, at most MAX_INLINE_INPUT_BYTES); or the image bytes as `image/*` with the options as query parameters. Images are decoded in the media pool and fetched through the same guard as sources. Flat images (hash_degenerate) match nothing.',
    security,
    request: {
      query: SearchQuery.partial().openapi({ description: 'With raw image/* bytes only.' }),
      body: {
        content: {
          'application/json': { schema: SearchImages },
          'image/*': { schema: z.string().openapi({ format: 'binary' }) },
        },
      },
    },
    responses: {
      200: {
        description: 'Matches, nearest first',
        content: {
          'application/json': {
            schema: z.object({
              query: z.object({
                phash: z.string(),
                dhash: z.string().nullable(),
                hash_degenerate: z.boolean(),
              }),
              object: z.literal('list'),
              hash: z.enum(['phash', 'dhash', 'both']),
              hash_degenerate: z.boolean(),
              data: z.array(SimilarMatch),
              has_more: z.boolean(),
            }),
          },
        },
      },
      ...problemResponses(400, 401, 413, 415, 422, 429, 503),
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/v1/images',
    summary: 'List images, newest first',
    security,
    request: { query: ListImagesQuery },
    responses: {
      200: { description: 'A page of images', content: { 'application/json': { schema: ImageList } } },
      ...problemResponses(400, 401, 429, 503),
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/v1/images/{id}',
    summary: 'Get an image',
    security,
    request: { params: ImageIdParam },
    responses: {
      200: { description: 'The image', content: { 'application/json': { schema: ImageSchema } } },
      ...problemResponses(401, 404, 429, 503),
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/v1/images/{id}/original',
    summary: 'Download the stored original bytes',
    security,
    request: { params: ImageIdParam },
    responses: {
      200: {
        description: 'The original bytes',
        content: { 'application/octet-stream': { schema: z.string() } },
      },
      302: {
        description:
          'With ORIGINALS_DELIVERY=redirect (S3 storage): a presigned URL of the bucket, valid ORIGINALS_REDIRECT_TTL_SECONDS',
        headers: { Location: { schema: { type: 'string' } } },
      },
      304: { description: 'Not modified (If-None-Match)' },
      ...problemResponses(401, 404, 409, 429, 503),
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/v1/images/{id}/lightroom-preset',
    summary:
      'A Lightroom Classic develop preset (.xmp) from the image’s Camera Raw settings (crs:); per-image settings (crop, spot removal, local masks, as-shot white balance) are left out',
    security,
    request: { params: ImageIdParam },
    responses: {
      200: {
        description: 'The preset file (Content-Disposition: attachment)',
        content: { 'application/rdf+xml': { schema: z.string() } },
      },
      ...problemResponses(401, 404, 429, 503),
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/v1/images/{id}/similar',
    summary:
      'Near-duplicates by pHash, dHash or both (Hamming distance), nearest first; exact (an index up to 15 bits, a scan beyond)',
    security,
    request: { params: ImageIdParam, query: SimilarQuery },
    responses: {
      200: {
        description: 'Similar images of the same account',
        content: {
          'application/json': {
            schema: z.object({
              object: z.literal('list'),
              hash: z.enum(['phash', 'dhash', 'both']),
              hash_degenerate: z
                .boolean()
                .openapi({ description: 'The image is flat: it has no meaningful near-duplicates' }),
              data: z.array(SimilarMatch),
              has_more: z.boolean(),
            }),
          },
        },
      },
      ...problemResponses(400, 401, 404, 409, 429, 503),
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/v1/images/{id}/variants/{name}',
    summary: 'Download a rendered variant (preset)',
    security,
    request: { params: ImageIdParam.extend({ name: z.string().openapi({ example: 'thumbnail' }) }) },
    responses: {
      200: { description: 'The variant bytes', content: { 'image/jpeg': { schema: z.string() } } },
      ...problemResponses(401, 404, 429, 503),
    },
  });

  registry.registerPath({
    method: 'delete',
    path: '/v1/images/{id}',
    summary: 'Delete an image, its variants and blobs (idempotent)',
    security,
    request: { params: ImageIdParam },
    responses: { 204: { description: 'Deleted (or already gone)' }, ...problemResponses(401, 404, 429, 503) },
  });
}
