import { GRAVITIES } from '@imgkit/media/core';
import { EXTENSIONS } from '@imgkit/urls';
import { named, z } from './zod.ts';

const UrlRequest = z.strictObject({
  preset: z
    .string()
    .regex(/^[a-z0-9_-]{1,32}$/)
    .optional()
    .openapi({ description: 'A named preset (GET /v1/presets); other options given override its values' }),
  width: z.number().int().min(1).optional(),
  height: z.number().int().min(1).optional(),
  fit: z.enum(['cover', 'inside', 'fill']).optional(),
  gravity: z.enum(GRAVITIES).optional(),
  quality: z.number().int().min(1).max(100).optional(),
  format: z
    .enum(['auto', ...Object.keys(EXTENSIONS)] as [string, ...string[]])
    .optional()
    .openapi({
      description:
        'Default: the preset’s format, else jpg. auto: AVIF or WebP for clients whose Accept names them, else the original’s family (jpg, or png/gif); the response varies on Accept',
    }),
  expires_in: z
    .number()
    .int()
    .min(1)
    .max(10 * 365 * 86400)
    .optional()
    .openapi({ description: 'Seconds' }),
});

export const UrlsBody = named(
  'SignedUrlRequest',
  z.strictObject({ urls: z.array(UrlRequest).min(1).max(20) }),
);

export const PresetSchema = named(
  'UrlPreset',
  z.object({
    name: z.string(),
    width: z.number().int().optional(),
    height: z.number().int().optional(),
    fit: z.enum(['cover', 'inside', 'fill']).optional(),
    gravity: z.string().optional(),
    quality: z.number().int().optional(),
    format: z.string().optional().openapi({ description: 'auto, or the extension URLs made for it get' }),
  }),
);

export const PresetList = z.object({
  object: z.literal('list'),
  presets_only: z
    .boolean()
    .openapi({ description: 'SIGNED_URLS_PRESETS_ONLY: signed URLs may carry nothing but a preset' }),
  data: z.array(PresetSchema),
});

export const PurgeResult = named(
  'Purge',
  z.object({
    object: z.literal('purge'),
    image_id: z.string(),
    rendition_version: z.number().int().openapi({ description: 'URLs made from now on carry v:<this>' }),
    purged_at: z.string(),
    cache_tag: z.string().openapi({ description: 'The Cache-Tag / Surrogate-Key to purge at a CDN' }),
  }),
);
