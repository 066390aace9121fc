import { withTransaction } from '@imgkit/db';
import { checkPublicUrl } from '@imgkit/fetch';
import { isId } from '@imgkit/ids';
import {
  createEndpoint,
  deleteEndpoint,
  type EndpointRow,
  endpointJson,
  getEndpoint,
  getMessage,
  listEndpoints,
  recordMessageFor,
  rotateEndpointSecret,
  updateEndpoint,
} from '@imgkit/webhooks';
import { type Request, type Response, Router } from 'express';
import { principalOf } from '../../middleware/auth.ts';
import { problems } from '../../problem.ts';
import { CreateEndpoint, ListEndpointsQuery, UpdateEndpoint } from '../../schemas/webhooks.ts';
import { fieldErrors } from '../../schemas/zod.ts';
import type { WebhooksRouteDeps } from './deps.ts';

/** /v1/webhook-endpoints: create, list, read, change, delete, rotate the secret, ping. */
export function endpointRoutes(deps: WebhooksRouteDeps): Router {
  const router = Router();

  router.post('/v1/webhook-endpoints', async (req, res) => {
    const parsed = CreateEndpoint.safeParse(req.body);
    if (!parsed.success) throw problems.validation(fieldErrors(parsed.error));
    const body = parsed.data;
    await checkTarget(body.url);
    const { row, secret } = await createEndpoint(deps.pool, principalOf(res).accountId, {
      url: body.url,
      description: body.description ?? null,
      events: body.events ?? [],
      enabled: body.enabled ?? true,
    });
    res.status(201).location(`/v1/webhook-endpoints/${row.id}`).json(endpointJson(row, secret));
  });

  router.get('/v1/webhook-endpoints', async (req, res) => {
    const parsed = ListEndpointsQuery.safeParse(req.query);
    if (!parsed.success) throw problems.validation(fieldErrors(parsed.error));
    const page = await listEndpoints(deps.pool, principalOf(res).accountId, {
      limit: parsed.data.limit,
      startingAfter: parsed.data.starting_after,
    });
    res.json({ object: 'list', data: page.rows.map((r) => endpointJson(r)), has_more: page.hasMore });
  });

  router.get('/v1/webhook-endpoints/:id', async (req, res) => {
    res.json(endpointJson(await findEndpoint(req, res)));
  });

  router.patch('/v1/webhook-endpoints/:id', async (req, res) => {
    const existing = await findEndpoint(req, res);
    const parsed = UpdateEndpoint.safeParse(req.body);
    if (!parsed.success) throw problems.validation(fieldErrors(parsed.error));
    if (parsed.data.url) await checkTarget(parsed.data.url);
    const row = await updateEndpoint(deps.pool, existing.id, existing.account_id, parsed.data);
    if (!row) throw problems.notFound();
    res.json(endpointJson(row));
  });

  router.delete('/v1/webhook-endpoints/:id', async (req, res) => {
    const id = String(req.params.id);
    if (!isId('webhookEndpoint', id)) throw problems.notFound();
    await deleteEndpoint(deps.pool, id, principalOf(res).accountId);
    res.status(204).end();
  });

  router.post('/v1/webhook-endpoints/:id/rotate-secret', async (req, res) => {
    const existing = await findEndpoint(req, res);
    const rotated = await rotateEndpointSecret(
      deps.pool,
      existing.id,
      existing.account_id,
      deps.secretRotationMs,
    );
    if (!rotated) throw problems.notFound();
    res.json(endpointJson(rotated.row, rotated.secret));
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
    res.status(202).json(await getMessage(deps.pool, id, endpoint.account_id));
  });

  async function checkTarget(url: string) {
    const verdict = await checkPublicUrl(url, { allowPrivateNetworks: deps.allowPrivateNetworks });
    if (!verdict.ok) throw problems.validation([{ field: 'url', message: verdict.reason }]);
  }

  async function findEndpoint(req: Request, res: Response): Promise<EndpointRow> {
    const id = String(req.params.id);
    const row = isId('webhookEndpoint', id)
      ? await getEndpoint(deps.pool, id, principalOf(res).accountId)
      : undefined;
    if (!row) throw problems.notFound(`No webhook endpoint ${JSON.stringify(id)}.`);
    return row;
  }

  return router;
}
