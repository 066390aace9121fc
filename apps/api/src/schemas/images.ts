import { HttpUrl, named, z } from './zod.ts';

export const VARIANT_NAME = z.string().regex(/^[a-z0-9_-]{1,32}$/, 'must be a preset name');

export const ImageOptionsShape = {
  passthrough: z
    .unknown()
    .optional()
    .openapi({ description: 'Any JSON value up to 16 KiB, returned and sent in webhooks exactly as given.' }),
  exif: z.boolean().optional().openapi({ description: 'Extract EXIF/XMP/IPTC (default true).' }),
  variants: z
    .array(VARIANT_NAME)
    .max(10)
    .optional()
    .openapi({ example: ['thumbnail', 'medium'] }),
  webhook_url: HttpUrl.optional(),
};

export const CreateImageFromUrl = named(
  'CreateImageFromUrl',
  z.strictObject({ url: HttpUrl, ...ImageOptionsShape }),
);

/** The same options when they arrive as multipart fields or query parameters (strings). */
export const ImageOptionFields = z.strictObject({
  passthrough: z.string().optional(),
  exif: z.enum(['true', 'false']).optional(),
  variants: z.string().optional(),
  webhook_url: HttpUrl.optional(),
  filename: z.string().max(255).optional(),
});

export const ImageSchema = named(
  'Image',
  z
    .object({
      id: z.string().openapi({ example: 'img_2ZVt6mQjNqVr8hQpV9k1tq2C0aB' }),
      object: z.literal('image'),
      status: z.enum(['pending', 'processing', 'completed', 'failed']),
      source: z.enum(['url', 'upload']),
      url: z.string().nullable(),
      final_url: z.string().nullable(),
      filename: z.string().nullable(),
      content_type: z.string().nullable(),
      byte_size: z.number().int().nullable(),
      checksum: z.string().nullable().openapi({ description: 'SHA-256 hex of the stored bytes' }),
      width: z.number().int().nullable(),
      height: z.number().int().nullable(),
      orientation: z.number().int().nullable(),
      format: z.record(z.string(), z.unknown()).nullable(),
      exif: z.record(z.string(), z.unknown()).nullable(),
      xmp: z.record(z.string(), z.unknown()).nullable(),
      iptc: z.record(z.string(), z.unknown()).nullable(),
      gps: z
        .object({ latitude: z.number(), longitude: z.number(), altitude: z.number().nullable() })
        .nullable(),
      phash: z.string().nullable(),
      dhash: z.string().nullable(),
      palette: z.array(z.object({ color: z.string(), weight: z.number() })).nullable(),
      placeholder: z.string().nullable(),
      taken_at: z.string().nullable().openapi({
        description:
          'When the picture was taken, ISO 8601 (with the UTC offset when recorded): EXIF DateTimeOriginal, else XMP exif:DateTimeOriginal, IPTC DateCreated + TimeCreated, XMP photoshop:DateCreated, XMP xmp:CreateDate',
        example: '2006-10-29T06:27:51-05:00',
      }),
      hash_degenerate: z.boolean().openapi({
        description:
          'A flat or near-flat image (constant colour, blank scan): its hashes match unrelated flat images, so it is left out of similarity results',
      }),
      duplicates: z
        .object({
          exact: z
            .array(z.string())
            .openapi({ description: 'Images of the account with the same SHA-256 (≤ 10)' }),
          nearest: z
            .object({ id: z.string(), phash_distance: z.number().int(), dhash_distance: z.number().int() })
            .nullable()
            .openapi({ description: 'The closest image within 10 bits on both pHash and dHash' }),
        })
        .nullable()
        .openapi({ description: 'What the account already had when this image completed; null before' }),
      variants: z.record(z.string(), z.unknown()),
      requested_variants: z.array(z.string()),
      webhook_url: z.string().nullable(),
      error: z
        .object({
          code: z.string(),
          message: z.string().nullable(),
          rule: z
            .string()
            .optional()
            .openapi({ description: 'rejected_by_rule: the account’s intake rule the image broke' }),
        })
        .nullable(),
      rendition_version: z.number().int().openapi({
        description: 'Bumped by POST /v1/images/{id}/purge; signed URLs made since carry it as v:<n>',
      }),
      attempts: z.number().int(),
      original_url: z.string(),
      created_at: z.string(),
      updated_at: z.string(),
      completed_at: z.string().nullable(),
      passthrough: z.unknown(),
    })
    .openapi({ description: 'An image and everything imgkit knows about it; unknown fields are null.' }),
);

export const ImageList = named(
  'ImageList',
  z.object({ object: z.literal('list'), data: z.array(ImageSchema), has_more: z.boolean() }),
);

export const ListImagesQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  starting_after: z.string().optional(),
  ending_before: z.string().optional(),
  status: z.enum(['pending', 'processing', 'completed', 'failed']).optional(),
  checksum: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters')
    .optional(),
});

export const ImageIdParam = z.object({
  id: z.string().openapi({ example: 'img_2ZVt6mQjNqVr8hQpV9k1tq2C0aB' }),
});

export const SimilarQuery = z.strictObject({
  max_distance: z.coerce
    .number()
    .int()
    .min(0)
    .max(64)
    .default(10)
    .openapi({ description: 'Hamming distance in bits; up to 15 answered from the index, beyond by a scan' }),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  hash: z
    .enum(['phash', 'dhash', 'both'])
    .default('phash')
    .openapi({ description: 'both: within max_distance on pHash and on dHash (fewer false positives)' }),
});

const Hex64 = z
  .string()
  .regex(/^[0-9a-f]{16}$/, 'must be 16 lowercase hex digits (a 64-bit hash as imgkit returns it)');

/** POST /v1/images/search: one of a hash, a URL or the image inline; the search options. */
export const SearchImages = named(
  'SearchImages',
  z
    .strictObject({
      phash: Hex64.optional(),
      dhash: Hex64.optional().openapi({ description: 'With phash; needed for hash=dhash or both' }),
      url: HttpUrl.optional().openapi({ description: 'An image to fetch (as imgkit fetches sources)' }),
      image_data: z.string().optional().openapi({ description: 'The image bytes, base64' }),
      hash: z.enum(['phash', 'dhash', 'both']).default('phash'),
      max_distance: z.number().int().min(0).max(64).default(10),
      limit: z.number().int().min(1).max(100).default(20),
    })
    .refine((b) => [b.phash, b.url, b.image_data].filter((x) => x !== undefined).length === 1, {
      message: 'give exactly one of phash, url or image_data (or send the image bytes as image/*)',
      path: ['phash'],
    }),
);

/** The same options as query parameters, when the image bytes are the body. */
export const SearchQuery = z.strictObject({
  hash: z.enum(['phash', 'dhash', 'both']).default('phash'),
  max_distance: z.coerce.number().int().min(0).max(64).default(10),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});
