import { type Pool, query, queryOne, withTransaction } from '@imgkit/db';
import { checkPublicUrl } from '@imgkit/fetch';
import { isId, newId } from '@imgkit/ids';
import {
  enqueueDelivery,
  generateWebhookSecret,
  webhookQueries as Q,
  recordMessageFor,
} from '@imgkit/webhooks';
import { type Request, type Response, Router } from 'express';
import { principalOf } from '../middleware/auth.ts';
import { problems } from '../problem.ts';
import {
  AttemptSchema,
  CreateEndpoint,
  EndpointSchema,
  ListEndpointsQuery,
  ListMessagesQuery,
  MessageSchema,
  UpdateEndpoint,
} from '../schemas/webhooks.ts';
import { bearerAuth, fieldErrors, problemResponses, registry, z } from '../schemas/zod.ts';

export interface WebhooksRouteDeps {
  pool: Pool;
  allowPrivateNetworks: boolean;
  secretRotationMs: number;
  deliveryMaxAttempts: number;
}

interface EndpointRow {
  id: string;
  account_id: string;
  url: string;
  description: string | null;
  events: string[];
  enabled: boolean;
  disabled_reason: string | null;
  failing_since: Date | null;
  previous_secret_expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

interface MessageRow {
  id: string;
  endpoint_id: string | null;
  url: string;
  event_type: string;
  image_id: string | null;
  job_id: string | null;
  status: string;
  attempts: number;
  last_error: string | null;
  next_attempt_at: Date | null;
  delivered_at: Date | null;
  created_at: Date;
}

interface AttemptRow {
  id: string;
  message_id: string;
  attempted_at: Date;
  url: string;
  status_code: number | null;
  latency_ms: number;
  error: string | null;
  response_body: string | null;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function endpointJson(row: EndpointRow, secret?: string) {
  return {
    id: row.id,
    object: 'webhook_endpoint',
    url: row.url,
    description: row.description,
    events: row.events,
    enabled: row.enabled,
    disabled_reason: row.disabled_reason,
    failing_since: iso(row.failing_since),
    previous_secret_expires_at: iso(row.previous_secret_expires_at),
    ...(secret ? { secret } : {}),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

function messageJson(row: MessageRow, attempts: AttemptRow[]) {
  return {
    id: row.id,
    object: 'webhook_message',
    endpoint_id: row.endpoint_id,
    url: row.url,
    event_type: row.event_type,
    image_id: row.image_id,
    job_id: row.job_id,
    status: row.status,
    attempts: row.attempts,
    last_error: row.last_error,
    next_attempt_at: iso(row.next_attempt_at),
    delivered_at: iso(row.delivered_at),
    created_at: row.created_at.toISOString(),
    attempt_log: attempts.map((a) => ({
      id: a.id,
      attempted_at: a.attempted_at.toISOString(),
      url: a.url,
      status_code: a.status_code,
      latency_ms: a.latency_ms,
      error: a.error,
      response_body: a.response_body,
    })),
  };
}

export function webhooksRouter(deps: WebhooksRouteDeps): Router {
  const router = Router();

  async function checkTarget(url: string, field = 'url') {
    const verdict = await checkPublicUrl(url, { allowPrivateNetworks: deps.allowPrivateNetworks });
    if (!verdict.ok) throw problems.validation([{ field, message: verdict.reason }]);
  }

  async function findEndpoint(req: Request, res: Response): Promise<EndpointRow> {
    const id = String(req.params.id);
    if (!isId('webhookEndpoint', id)) throw problems.notFound(`No webhook endpoint ${JSON.stringify(id)}.`);
    const row = await queryOne<EndpointRow>(deps.pool, Q.getEndpoint, [id, principalOf(res).accountId]);
    if (!row) throw problems.notFound(`No webhook endpoint ${JSON.stringify(id)}.`);
    return row;
  }

  router.post('/v1/webhook-endpoints', async (req, res) => {
    const parsed = CreateEndpoint.safeParse(req.body);
    if (!parsed.success) throw problems.validation(fieldErrors(parsed.error));
    const body = parsed.data;
    await checkTarget(body.url);
    const secret = generateWebhookSecret();
    const row = await queryOne<EndpointRow>(deps.pool, Q.insertEndpoint, [
      newId('webhookEndpoint'),
      principalOf(res).accountId,
      body.url,
      body.description ?? null,
      body.events ?? [],
      body.enabled ?? true,
      secret,
    ]);
    res.status(201).location(`/v1/webhook-endpoints/${row!.id}`).json(endpointJson(row!, secret));
  });

  router.get('/v1/webhook-endpoints', async (req, res) => {
    const parsed = ListEndpointsQuery.safeParse(req.query);
    if (!parsed.success) throw problems.validation(fieldErrors(parsed.error));
    const { limit, starting_after } = parsed.data;
    const rows = await query<EndpointRow>(deps.pool, Q.listEndpoints, [
      principalOf(res).accountId,
      starting_after ?? null,
      limit + 1,
    ]);
    res.json({
      object: 'list',
      data: rows.slice(0, limit).map((r) => endpointJson(r)),
      has_more: rows.length > limit,
    });
  });

  router.get('/v1/webhook-endpoints/:id', async (req, res) => {
    res.json(endpointJson(await findEndpoint(req, res)));
  });

  router.patch('/v1/webhook-endpoints/:id', async (req, res) => {
    const existing = await findEndpoint(req, res);
    const parsed = UpdateEndpoint.safeParse(req.body);
    if (!parsed.success) throw problems.validation(fieldErrors(parsed.error));
    const body = parsed.data;
    if (body.url) await checkTarget(body.url);
    const row = await queryOne<EndpointRow>(deps.pool, Q.updateEndpoint, [
      existing.id,
      existing.account_id,
      body.url ?? null,
      body.description !== undefined,
      body.description ?? null,
      body.events ?? null,
      body.enabled ?? null,
    ]);
    res.json(endpointJson(row!));
  });

  router.delete('/v1/webhook-endpoints/:id', async (req, res) => {
    const id = String(req.params.id);
    if (!isId('webhookEndpoint', id)) throw problems.notFound();
    await query(deps.pool, Q.deleteEndpoint, [id, principalOf(res).accountId]);
    res.status(204).end();
  });

  router.post('/v1/webhook-endpoints/:id/rotate-secret', async (req, res) => {
    const existing = await findEndpoint(req, res);
    const secret = generateWebhookSecret();
    const row = await queryOne<EndpointRow>(deps.pool, Q.rotateEndpointSecret, [
      existing.id,
      existing.account_id,
      secret,
      deps.secretRotationMs,
    ]);
    res.json(endpointJson(row!, secret));
  });

  router.post('/v1/webhook-endpoints/:id/test', async (req, res) => {
    const endpoint = await findEndpoint(req, res);
    const id = await withTransaction(deps.pool, (tx) =>
      recordMessageFor(
        tx,
        {
          accountId: endpoint.account_id,
          type: 'ping',
          dataJson: JSON.stringify({ endpoint_id: endpoint.id, message: 'ping from imgkit' }),
        },
        { endpointId: endpoint.id, url: endpoint.url },
        deps.deliveryMaxAttempts,
      ),
    );
    res.status(202).json(await messageWithAttempts(id, endpoint.account_id));
  });

  router.post('/v1/account/webhook-secret/rotate', async (_req, res) => {
    const secret = generateWebhookSecret();
    const row = await queryOne<{ webhook_previous_secret_expires_at: Date }>(
      deps.pool,
      Q.rotateAccountSecret,
      [principalOf(res).accountId, secret, deps.secretRotationMs],
    );
    res.json({ secret, previous_secret_expires_at: iso(row!.webhook_previous_secret_expires_at) });
  });

  router.get('/v1/webhook-messages', async (req, res) => {
    const parsed = ListMessagesQuery.safeParse(req.query);
    if (!parsed.success) throw problems.validation(fieldErrors(parsed.error));
    const q = parsed.data;
    const rows = await query<MessageRow>(deps.pool, Q.listMessages, [
      principalOf(res).accountId,
      q.starting_after ?? null,
      q.image_id ?? null,
      q.job_id ?? null,
      q.endpoint_id ?? null,
      q.status ?? null,
      q.limit + 1,
    ]);
    const page = rows.slice(0, q.limit);
    const attempts = await query<AttemptRow>(deps.pool, Q.attemptsFor, [page.map((r) => r.id)]);
    res.json({
      object: 'list',
      data: page.map((m) =>
        messageJson(
          m,
          attempts.filter((a) => a.message_id === m.id),
        ),
      ),
      has_more: rows.length > q.limit,
    });
  });

  router.get('/v1/webhook-messages/:id', async (req, res) => {
    const id = String(req.params.id);
    if (!isId('webhookMessage', id)) throw problems.notFound();
    res.json(await messageWithAttempts(id, principalOf(res).accountId));
  });

  router.post('/v1/webhook-messages/:id/retry', async (req, res) => {
    const id = String(req.params.id);
    const { accountId } = principalOf(res);
    if (!isId('webhookMessage', id)) throw problems.notFound();
    const found = await withTransaction(deps.pool, async (tx) => {
      const row = await queryOne(tx, Q.resetMessage, [id, accountId]);
      if (!row) return false;
      // A replay is a fresh delivery with a fresh attempt budget; a delivery already queued is not doubled.
      await enqueueDelivery(tx, id, deps.deliveryMaxAttempts);
      return true;
    });
    if (!found) throw problems.notFound();
    res.status(202).json(await messageWithAttempts(id, accountId));
  });

  async function messageWithAttempts(id: string, accountId: string) {
    const row = await queryOne<MessageRow>(deps.pool, Q.getMessage, [id, accountId]);
    if (!row) throw problems.notFound(`No webhook message ${JSON.stringify(id)}.`);
    const attempts = await query<AttemptRow>(deps.pool, Q.attemptsFor, [[id]]);
    return messageJson(row, attempts);
  }

  return router;
}

// ---- OpenAPI ---------------------------------------------------------------

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
void AttemptSchema;

registry.registerPath({
  method: 'post',
  path: '/v1/webhook-endpoints',
  summary: 'Create a webhook endpoint (its secret is shown once)',
  security,
  request: { body: { content: { 'application/json': { schema: CreateEndpoint } } } },
  responses: { 201: json(EndpointSchema, 'Created'), ...problemResponses(400, 401, 429) },
});
registry.registerPath({
  method: 'get',
  path: '/v1/webhook-endpoints',
  summary: 'List webhook endpoints',
  security,
  request: { query: ListEndpointsQuery },
  responses: { 200: json(EndpointList, 'Endpoints'), ...problemResponses(400, 401, 429) },
});
registry.registerPath({
  method: 'get',
  path: '/v1/webhook-endpoints/{id}',
  summary: 'Get a webhook endpoint',
  security,
  request: { params: IdParam },
  responses: { 200: json(EndpointSchema, 'The endpoint'), ...problemResponses(401, 404, 429) },
});
registry.registerPath({
  method: 'patch',
  path: '/v1/webhook-endpoints/{id}',
  summary: 'Change url, events, description; enable or disable',
  security,
  request: { params: IdParam, body: { content: { 'application/json': { schema: UpdateEndpoint } } } },
  responses: { 200: json(EndpointSchema, 'Updated'), ...problemResponses(400, 401, 404, 429) },
});
registry.registerPath({
  method: 'delete',
  path: '/v1/webhook-endpoints/{id}',
  summary: 'Delete a webhook endpoint',
  security,
  request: { params: IdParam },
  responses: { 204: { description: 'Deleted (or already gone)' }, ...problemResponses(401, 404, 429) },
});
registry.registerPath({
  method: 'post',
  path: '/v1/webhook-endpoints/{id}/rotate-secret',
  summary: 'New secret; the old one keeps signing too for WEBHOOK_SECRET_ROTATION_HOURS',
  security,
  request: { params: IdParam },
  responses: {
    200: json(EndpointSchema, 'The endpoint with its new secret'),
    ...problemResponses(401, 404, 429),
  },
});
registry.registerPath({
  method: 'post',
  path: '/v1/webhook-endpoints/{id}/test',
  summary: 'Send a ping event to the endpoint',
  security,
  request: { params: IdParam },
  responses: { 202: json(MessageSchema, 'Queued'), ...problemResponses(401, 404, 429) },
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
    ...problemResponses(401, 429),
  },
});
registry.registerPath({
  method: 'get',
  path: '/v1/webhook-messages',
  summary: 'Delivery log: messages with every attempt',
  security,
  request: { query: ListMessagesQuery },
  responses: { 200: json(MessageList, 'Messages'), ...problemResponses(400, 401, 429) },
});
registry.registerPath({
  method: 'get',
  path: '/v1/webhook-messages/{id}',
  summary: 'A message with its attempts',
  security,
  request: { params: IdParam },
  responses: { 200: json(MessageSchema, 'The message'), ...problemResponses(401, 404, 429) },
});
registry.registerPath({
  method: 'post',
  path: '/v1/webhook-messages/{id}/retry',
  summary: 'Deliver a message again',
  security,
  request: { params: IdParam },
  responses: { 202: json(MessageSchema, 'Queued'), ...problemResponses(401, 404, 429) },
});
