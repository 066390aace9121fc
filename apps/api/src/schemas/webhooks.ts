import { EVENT_TYPES } from '@imgkit/webhooks';
import { HttpUrl, named, z } from './zod.ts';

const EventName = z.enum(EVENT_TYPES.filter((e) => e !== 'ping') as [string, ...string[]]);

export const CreateEndpoint = named(
  'CreateWebhookEndpoint',
  z.strictObject({
    url: HttpUrl,
    description: z.string().max(500).optional(),
    events: z.array(EventName).max(10).optional().openapi({ description: 'Empty or absent: every event.' }),
    enabled: z.boolean().optional(),
  }),
);

export const UpdateEndpoint = named(
  'UpdateWebhookEndpoint',
  z.strictObject({
    url: HttpUrl.optional(),
    description: z.string().max(500).nullable().optional(),
    events: z.array(EventName).max(10).optional(),
    enabled: z.boolean().optional(),
  }),
);

export const EndpointSchema = named(
  'WebhookEndpoint',
  z.object({
    id: z.string().openapi({ example: 'whe_2ZVt6mQjNqVr8hQpV9k1tq2C0aB' }),
    object: z.literal('webhook_endpoint'),
    url: z.string(),
    description: z.string().nullable(),
    events: z.array(z.string()),
    enabled: z.boolean(),
    disabled_reason: z.string().nullable(),
    failing_since: z.string().nullable(),
    previous_secret_expires_at: z.string().nullable(),
    secret: z.string().optional().openapi({ description: 'Shown only when created or rotated: `whsec_…`' }),
    created_at: z.string(),
    updated_at: z.string(),
  }),
);

export const AttemptSchema = z.object({
  id: z.string(),
  attempted_at: z.string(),
  url: z.string(),
  status_code: z.number().int().nullable(),
  latency_ms: z.number().int(),
  error: z.string().nullable(),
  response_body: z.string().nullable(),
});

export const MessageSchema = named(
  'WebhookMessage',
  z.object({
    id: z.string().openapi({ example: 'msg_2ZVt6mQjNqVr8hQpV9k1tq2C0aB' }),
    object: z.literal('webhook_message'),
    endpoint_id: z.string().nullable(),
    url: z.string(),
    event_type: z.string(),
    image_id: z.string().nullable(),
    job_id: z.string().nullable(),
    status: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.number().int(),
    last_error: z.string().nullable(),
    next_attempt_at: z.string().nullable(),
    delivered_at: z.string().nullable(),
    created_at: z.string(),
    attempt_log: z.array(AttemptSchema),
  }),
);

export const ListMessagesQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  starting_after: z.string().optional(),
  image_id: z.string().optional(),
  job_id: z.string().optional(),
  endpoint_id: z.string().optional(),
  status: z.enum(['pending', 'delivered', 'failed']).optional(),
});

export const ListEndpointsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  starting_after: z.string().optional(),
});
