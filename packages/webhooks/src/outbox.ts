import { type Queryable, query, sql } from '@imgkit/db';
import { newId } from '@imgkit/ids';
import { enqueue } from '@imgkit/queue';
import { DELIVER_WEBHOOK } from './deliver-kind.ts';
import { type EventType, eventBody } from './events.ts';

export interface WebhookEvent {
  accountId: string;
  type: EventType;
  /** The resource as GET returns it, as JSON text. */
  dataJson: string;
  imageId?: string;
  jobId?: string;
  /** The resource's own callback URL (signed with the account's default secret). */
  webhookUrl?: string | null;
}

const matchingEndpointsSql = sql(
  'webhooks.matching_endpoints',
  `SELECT id, url FROM webhook_endpoints
   WHERE account_id = $1 AND enabled AND (cardinality(events) = 0 OR $2 = ANY(events)) ORDER BY id`,
);

/**
 * The outbox: called inside the transaction that moves an image or job to its
 * final state, it writes one message per target and its first delivery task.
 * Commit both or neither — a crash can neither lose nor invent a webhook.
 */
export async function recordEvent(
  tx: Queryable,
  event: WebhookEvent,
  maxAttempts: number,
): Promise<string[]> {
  const targets: { endpointId: string | null; url: string }[] = (
    await query<{ id: string; url: string }>(tx, matchingEndpointsSql, [event.accountId, event.type])
  ).map((e) => ({ endpointId: e.id, url: e.url }));
  if (event.webhookUrl) targets.push({ endpointId: null, url: event.webhookUrl });
  const body = eventBody(event.type, event.dataJson);
  const ids: string[] = [];
  for (const target of targets) {
    const id = await insertMessage(tx, event, target, body);
    await enqueueDelivery(tx, id, maxAttempts);
    ids.push(id);
  }
  return ids;
}

/** A message to one endpoint (e.g. a ping), with its delivery task. */
export async function recordMessageFor(
  tx: Queryable,
  event: WebhookEvent,
  target: { endpointId: string | null; url: string },
  maxAttempts: number,
): Promise<string> {
  const id = await insertMessage(tx, event, target, eventBody(event.type, event.dataJson));
  await enqueueDelivery(tx, id, maxAttempts);
  return id;
}

/** At most one unfinished delivery task per message, so a manual retry cannot double a queued one. */
export async function enqueueDelivery(tx: Queryable, messageId: string, maxAttempts: number): Promise<void> {
  await enqueue(
    tx,
    DELIVER_WEBHOOK,
    { message_id: messageId },
    { subjectId: messageId, maxAttempts, dedupeKey: `deliver:${messageId}` },
  );
}

const insertMessageSql = sql(
  'webhooks.insert_message',
  `INSERT INTO webhook_messages (id, account_id, endpoint_id, to_endpoint, url, event_type, image_id, job_id, payload)
   VALUES ($1, $2, $3::text, $3::text IS NOT NULL, $4, $5, $6, $7, $8)`,
);

async function insertMessage(
  tx: Queryable,
  event: WebhookEvent,
  target: { endpointId: string | null; url: string },
  body: string,
): Promise<string> {
  const id = newId('webhookMessage');
  await query(tx, insertMessageSql, [
    id,
    event.accountId,
    target.endpointId,
    target.url,
    event.type,
    event.imageId ?? null,
    event.jobId ?? null,
    body,
  ]);
  return id;
}
