import { type Queryable, query, queryOne, sql } from '@imgkit/db';

/** What a delivery attempt changes about its message and its endpoint. */

// A message's attempts are the attempts logged for it, across redeliveries ($2, the task's own
// attempt number, restarts at 1 when a message is delivered again).
const ATTEMPTS = `greatest($2::int, (SELECT count(*)::int FROM webhook_attempts a WHERE a.message_id = webhook_messages.id))`;

const markDeliveredSql = sql(
  'webhooks.mark_delivered',
  `UPDATE webhook_messages SET status = 'delivered', attempts = ${ATTEMPTS}, delivered_at = now(), last_error = NULL,
     next_attempt_at = NULL, updated_at = now()
   WHERE id = $1`,
);
const endpointSucceededSql = sql(
  'webhooks.endpoint_succeeded',
  'UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL',
);

/** Delivered; the endpoint (if any) is healthy again. */
export async function markDelivered(
  tx: Queryable,
  messageId: string,
  attempts: number,
  endpointId: string | null,
): Promise<void> {
  await query(tx, markDeliveredSql, [messageId, attempts]);
  if (endpointId) await query(tx, endpointSucceededSql, [endpointId]);
}

const markRetryingSql = sql(
  'webhooks.mark_retrying',
  `UPDATE webhook_messages SET status = 'pending', attempts = ${ATTEMPTS}, last_error = $3, next_attempt_at = $4,
     updated_at = now()
   WHERE id = $1 AND status = 'pending'`,
);

export async function markMessageRetrying(
  tx: Queryable,
  messageId: string,
  o: { attempts: number; lastError: string; nextAttemptAt: Date },
): Promise<void> {
  await query(tx, markRetryingSql, [messageId, o.attempts, o.lastError, o.nextAttemptAt]);
}

const markFailedSql = sql(
  'webhooks.mark_failed',
  `UPDATE webhook_messages SET status = 'failed', attempts = ${ATTEMPTS}, last_error = $3, next_attempt_at = NULL,
     updated_at = now()
   WHERE id = $1`,
);

export async function markMessageFailed(
  tx: Queryable,
  messageId: string,
  o: { attempts: number; lastError: string },
): Promise<void> {
  await query(tx, markFailedSql, [messageId, o.attempts, o.lastError]);
}

const endpointFailedSql = sql(
  'webhooks.endpoint_failed',
  `UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, now())
   WHERE id = $1 RETURNING failing_since < now() - make_interval(secs => $2::float8 / 1000) AS too_long`,
);

/** Records a failed attempt against the endpoint; true when it has been failing for longer than `forMs`. */
export async function endpointFailing(db: Queryable, endpointId: string, forMs: number): Promise<boolean> {
  const row = await queryOne<{ too_long: boolean }>(db, endpointFailedSql, [endpointId, forMs]);
  return row?.too_long ?? false;
}

const disableEndpointSql = sql(
  'webhooks.disable_endpoint',
  `UPDATE webhook_endpoints SET enabled = false, disabled_reason = $2, updated_at = now() WHERE id = $1`,
);

export async function disableEndpoint(db: Queryable, endpointId: string, reason: string): Promise<void> {
  await query(db, disableEndpointSql, [endpointId, reason]);
}

const reopenSql = sql(
  'webhooks.reopen_message',
  `UPDATE webhook_messages SET status = 'pending', next_attempt_at = now(), updated_at = now()
   WHERE id = $1 AND status = 'failed' AND NOT (to_endpoint AND endpoint_id IS NULL) RETURNING id`,
);

/** A failed message back to pending, for an operator's `imgkit tasks retry`. */
export async function reopenMessage(tx: Queryable, id: string): Promise<boolean> {
  return (await query(tx, reopenSql, [id])).length > 0;
}
