import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import {
  CreateEndpoint,
  EndpointSchema,
  ListEndpointsQuery,
  ListMessagesQuery,
  MessageSchema,
  UpdateEndpoint,
} from '../schemas/webhooks.ts';
import { bearerAuth, problemResponses, z } from '../schemas/zod.ts';

const security = [{ [bearerAuth.name]: [] }];
const IdParam = z.object({ id: z.string() });
const json = (schema: z.ZodType, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});
const EndpointList = z.object({
  object: z.literal('list'),
  data: z.array(EndpointSchema),
  has_more: z.boolean(),
});
const MessageList = z.object({
  object: z.literal('list'),
  data: z.array(MessageSchema),
  has_more: z.boolean(),
});

export function registerWebhookPaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'post',
    path: '/v1/webhook-endpoints',
    summary: 'Create a webhook endpoint (its secret is shown once)',
    security,
    request: { body: { content: { 'application/json': { schema: CreateEndpoint } } } },
    responses: { 201: json(EndpointSchema, 'Created'), ...problemResponses(400, 401, 429, 503) },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/webhook-endpoints',
    summary: 'List webhook endpoints',
    security,
    request: { query: ListEndpointsQuery },
    responses: { 200: json(EndpointList, 'Endpoints'), ...problemResponses(400, 401, 429, 503) },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/webhook-endpoints/{id}',
    summary: 'Get a webhook endpoint',
    security,
    request: { params: IdParam },
    responses: { 200: json(EndpointSchema, 'The endpoint'), ...problemResponses(401, 404, 429, 503) },
  });
  registry.registerPath({
    method: 'patch',
    path: '/v1/webhook-endpoints/{id}',
    summary: 'Change url, events, description; enable or disable',
    security,
    request: { params: IdParam, body: { content: { 'application/json': { schema: UpdateEndpoint } } } },
    responses: { 200: json(EndpointSchema, 'Updated'), ...problemResponses(400, 401, 404, 429, 503) },
  });
  registry.registerPath({
    method: 'delete',
    path: '/v1/webhook-endpoints/{id}',
    summary: 'Delete a webhook endpoint',
    security,
    request: { params: IdParam },
    responses: { 204: { description: 'Deleted (or already gone)' }, ...problemResponses(401, 404, 429, 503) },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/webhook-endpoints/{id}/rotate-secret',
    summary: 'New secret; the old one keeps signing too for WEBHOOK_SECRET_ROTATION_HOURS',
    security,
    request: { params: IdParam },
    responses: {
      200: json(EndpointSchema, 'The endpoint with its new secret'),
      ...problemResponses(401, 404, 429, 503),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/webhook-endpoints/{id}/test',
    summary: 'Send a ping event to the endpoint',
    security,
    request: { params: IdParam },
    responses: { 202: json(MessageSchema, 'Queued'), ...problemResponses(401, 404, 429, 503) },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/account/webhook-secret/rotate',
    summary: "Rotate the account's default secret (signs deliveries to images' webhook_url)",
    security,
    responses: {
      200: json(
        z.object({ secret: z.string(), previous_secret_expires_at: z.string().nullable() }),
        'The new secret',
      ),
      ...problemResponses(401, 429, 503),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/webhook-messages',
    summary: 'Delivery log: messages with every attempt',
    security,
    request: { query: ListMessagesQuery },
    responses: { 200: json(MessageList, 'Messages'), ...problemResponses(400, 401, 429, 503) },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/webhook-messages/{id}',
    summary: 'A message with its attempts',
    security,
    request: { params: IdParam },
    responses: { 200: json(MessageSchema, 'The message'), ...problemResponses(401, 404, 429, 503) },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/webhook-messages/{id}/retry',
    summary: 'Deliver a message again',
    security,
    request: { params: IdParam },
    responses: { 202: json(MessageSchema, 'Queued'), ...problemResponses(401, 404, 429, 503) },
  });
}
