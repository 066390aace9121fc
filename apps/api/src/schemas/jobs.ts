import { GRAVITIES, OPERATIONS, OUTPUT_FORMATS } from '@imgkit/media/core';
import { HttpUrl, named, z } from './zod.ts';

const POSITIONS = GRAVITIES.filter((g) => g !== 'attention' && g !== 'entropy') as [string, ...string[]];

export const WatermarkSchema = z
  .strictObject({
    image_id: z.string().optional().openapi({ description: 'An image of the same account' }),
    text: z.string().min(1).max(200).optional(),
    position: z.enum(POSITIONS).optional(),
    margin: z.number().int().min(0).max(1000).optional(),
    opacity: z.number().min(0).max(1).optional(),
    scale: z.number().min(0.01).max(1).optional().openapi({ description: 'Width relative to the output' }),
  })
  .refine((w) => Boolean(w.image_id) !== Boolean(w.text), {
    message: 'give exactly one of image_id or text',
  });

export const CreateJob = named(
  'CreateJob',
  z
    .strictObject({
      image_id: z.string().optional(),
      url: HttpUrl.optional(),
      image_data: z.string().optional().openapi({ description: 'The image bytes, base64' }),
      operation: z.enum(OPERATIONS).openapi({
        description:
          'resize (exact width × height) and cover (fill width × height, cropped) need both width and height; ' +
          'thumbnail (fit inside) needs width or height; convert needs neither. width and height are at most ' +
          'MAX_OUTPUT_SIDE (default 4096). A watermark image must be a completed image of the account.',
      }),
      width: z.number().int().min(1).optional(),
      height: z.number().int().min(1).optional(),
      fit: z
        .enum(GRAVITIES)
        .optional()
        .openapi({ description: 'Gravity for cover: centre, north, …, attention, entropy' }),
      output_format: z.enum(OUTPUT_FORMATS).optional(),
      quality: z.number().int().min(1).max(100).optional(),
      enlarge: z.boolean().optional(),
      keep_metadata: z.boolean().optional(),
      watermark: WatermarkSchema.optional(),
      webhook_url: HttpUrl.optional(),
      passthrough: z.unknown().optional(),
    })
    .refine((b) => [b.image_id, b.url, b.image_data].filter((v) => v !== undefined).length === 1, {
      message: 'give exactly one of image_id, url or image_data',
      path: ['image_id'],
    })
    .refine((b) => b.operation === 'convert' || b.width !== undefined || b.height !== undefined, {
      message: 'thumbnail, resize and cover need a width or a height',
      path: ['width'],
    })
    .refine((b) => !(b.operation === 'resize' || b.operation === 'cover') || (b.width && b.height), {
      message: 'resize and cover need both width and height',
      path: ['height'],
    }),
);

export const JobAccepted = named(
  'JobAccepted',
  z.object({ job_id: z.string(), status: z.literal('pending'), message: z.string() }),
);

export const JobSchema = named(
  'Job',
  z.object({
    id: z.string().openapi({ example: 'job_2ZVt6mQjNqVr8hQpV9k1tq2C0aB' }),
    object: z.literal('job'),
    status: z.enum(['pending', 'processing', 'completed', 'failed']),
    operation: z.enum(OPERATIONS),
    parameters: z.record(z.string(), z.unknown()),
    input: z.object({ image_id: z.string().nullable(), url: z.string().nullable(), uploaded: z.boolean() }),
    output: z
      .object({
        format: z.string().nullable(),
        content_type: z.string().nullable(),
        width: z.number().int().nullable(),
        height: z.number().int().nullable(),
        byte_size: z.number().int().nullable(),
        checksum: z.string().nullable(),
        download_url: z.string(),
      })
      .nullable(),
    webhook_url: z.string().nullable(),
    error: z.object({ code: z.string(), message: z.string().nullable() }).nullable(),
    attempts: z.number().int(),
    created_at: z.string(),
    updated_at: z.string(),
    completed_at: z.string().nullable(),
    passthrough: z.unknown(),
  }),
);
