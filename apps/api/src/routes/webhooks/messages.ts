import { isId } from '@imgkit/ids';
import { getMessage, listMessages, redeliverMessage, rotateAccountSecret } from '@imgkit/webhooks';
import { Router } from 'express';
import { principalOf } from '../../middleware/auth.ts';
import { problems } from '../../problem.ts';
import { ListMessagesQuery } from '../../schemas/webhooks.ts';
import { fieldErrors } from '../../schemas/zod.ts';
import type { WebhooksRouteDeps } from './deps.ts';

/** The delivery log (with replay) and the account's default signing secret. */
export function messageRoutes(deps: WebhooksRouteDeps): Router {
  const router = Router();

  router.post('/v1/account/webhook-secret/rotate', async (_req, res) => {
    res.json(await rotateAccountSecret(deps.pool, principalOf(res).accountId, deps.secretRotationMs));
  });

  router.get('/v1/webhook-messages', async (req, res) => {
    const parsed = ListMessagesQuery.safeParse(req.query);
    if (!parsed.success) throw problems.validation(fieldErrors(parsed.error));
    const q = parsed.data;
    const page = await listMessages(deps.pool, principalOf(res).accountId, {
      limit: q.limit,
      startingAfter: q.starting_after,
      imageId: q.image_id,
      jobId: q.job_id,
      endpointId: q.endpoint_id,
      status: q.status,
    });
    res.json({ object: 'list', data: page.data, has_more: page.hasMore });
  });

  router.get('/v1/webhook-messages/:id', async (req, res) => {
    const id = String(req.params.id);
    const message = isId('webhookMessage', id)
      ? await getMessage(deps.pool, id, principalOf(res).accountId)
      : undefined;
    if (!message) throw problems.notFound(`No webhook message ${JSON.stringify(id)}.`);
    res.json(message);
  });

  router.post('/v1/webhook-messages/:id/retry', async (req, res) => {
    const id = String(req.params.id);
    const { accountId } = principalOf(res);
    if (!isId('webhookMessage', id)) throw problems.notFound();
    const outcome = await redeliverMessage(deps.pool, id, accountId, deps.deliveryMaxAttempts);
    if (outcome === 'not_found') throw problems.notFound();
    if (outcome === 'endpoint_deleted') {
      throw problems.conflict(
        'endpoint_deleted',
        'The message was for a webhook endpoint that has been deleted.',
      );
    }
    res.status(202).json(await getMessage(deps.pool, id, accountId));
  });

  return router;
}
