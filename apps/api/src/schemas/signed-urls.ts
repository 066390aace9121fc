import { GRAVITIES } from '@imgkit/media';
import { EXTENSIONS } from '@imgkit/urls';
import { named, z } from './zod.ts';

const UrlRequest = z.strictObject({
  width: z.number().int().min(1).optional(),
  height: z.number().int().min(1).optional(),
  fit: z.enum(['cover', 'inside', 'fill']).optional(),
  gravity: z.enum(GRAVITIES).optional(),
  quality: z.number().int().min(1).max(100).optional(),
  format: z
    .enum(['auto', ...Object.keys(EXTENSIONS)] as [string, ...string[]])
    .default('jpg')
    .openapi({
      description:
        'auto: AVIF or WebP for clients whose Accept names them, else the original’s family (jpg, or png/gif); the response varies on Accept',
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
