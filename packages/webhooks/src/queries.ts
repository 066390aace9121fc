import { sql } from '@imgkit/db';

const ENDPOINT_COLUMNS = `id, account_id, url, description, events, enabled, disabled_reason, failing_since,
  previous_secret_expires_at, created_at, updated_at`;
const MESSAGE_COLUMNS = `id, account_id, endpoint_id, url, event_type, image_id, job_id, status, attempts, last_error,
  next_attempt_at, delivered_at, created_at, updated_at`;

export const Q = {
  matchingEndpoints: sql(
    'webhooks.matching_endpoints',
    `SELECT id, url FROM webhook_endpoints
     WHERE account_id = $1 AND enabled AND (cardinality(events) = 0 OR $2 = ANY(events)) ORDER BY id`,
  ),
  insertMessage: sql(
    'webhooks.insert_message',
    `INSERT INTO webhook_messages (id, account_id, endpoint_id, url, event_type, image_id, job_id, payload)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${MESSAGE_COLUMNS}`,
  ),
  messageForDelivery: sql(
    'webhooks.message_for_delivery',
    `SELECT m.id, m.account_id, m.endpoint_id, m.url, m.payload, m.status,
            e.enabled AS endpoint_enabled, e.url AS endpoint_url,
            coalesce(e.secret, a.webhook_secret) AS secret,
            CASE WHEN e.id IS NOT NULL THEN
              CASE WHEN e.previous_secret_expires_at > now() THEN e.previous_secret END
            ELSE
              CASE WHEN a.webhook_previous_secret_expires_at > now() THEN a.webhook_previous_secret END
            END AS previous_secret
     FROM webhook_messages m
     JOIN accounts a ON a.id = m.account_id
     LEFT JOIN webhook_endpoints e ON e.id = m.endpoint_id
     WHERE m.id = $1`,
  ),
  ensureAccountSecret: sql(
    'webhooks.ensure_account_secret',
    `UPDATE accounts SET webhook_secret = coalesce(webhook_secret, $2) WHERE id = $1 RETURNING webhook_secret`,
  ),
  recordAttempt: sql(
    'webhooks.record_attempt',
    `INSERT INTO webhook_attempts (id, message_id, url, status_code, latency_ms, error, response_body)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
  ),
  markDelivered: sql(
    'webhooks.mark_delivered',
    `UPDATE webhook_messages SET status = 'delivered', attempts = $2, delivered_at = now(), last_error = NULL,
       next_attempt_at = NULL, updated_at = now()
     WHERE id = $1`,
  ),
  markRetrying: sql(
    'webhooks.mark_retrying',
    `UPDATE webhook_messages SET status = 'pending', attempts = $2, last_error = $3, next_attempt_at = $4, updated_at = now()
     WHERE id = $1`,
  ),
  markFailed: sql(
    'webhooks.mark_failed',
    `UPDATE webhook_messages SET status = 'failed', attempts = $2, last_error = $3, next_attempt_at = NULL, updated_at = now()
     WHERE id = $1`,
  ),
  endpointSucceeded: sql(
    'webhooks.endpoint_succeeded',
    'UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL',
  ),
  endpointFailed: sql(
    'webhooks.endpoint_failed',
    `UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, now())
     WHERE id = $1 RETURNING failing_since < now() - make_interval(secs => $2::float8 / 1000) AS too_long`,
  ),
  disableEndpoint: sql(
    'webhooks.disable_endpoint',
    `UPDATE webhook_endpoints SET enabled = false, disabled_reason = $2, updated_at = now() WHERE id = $1`,
  ),

  // API
  insertEndpoint: sql(
    'webhooks.insert_endpoint',
    `INSERT INTO webhook_endpoints (id, account_id, url, description, events, enabled, secret)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${ENDPOINT_COLUMNS}`,
  ),
  listEndpoints: sql(
    'webhooks.list_endpoints',
    `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints
     WHERE account_id = $1 AND ($2::text IS NULL OR id < $2) ORDER BY id DESC LIMIT $3`,
  ),
  getEndpoint: sql(
    'webhooks.get_endpoint',
    `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1 AND account_id = $2`,
  ),
  updateEndpoint: sql(
    'webhooks.update_endpoint',
    `UPDATE webhook_endpoints SET
       url = coalesce($3, url), description = CASE WHEN $4::boolean THEN $5 ELSE description END,
       events = coalesce($6, events), enabled = coalesce($7, enabled),
       disabled_reason = CASE WHEN $7 IS TRUE THEN NULL ELSE disabled_reason END,
       failing_since = CASE WHEN $7 IS TRUE THEN NULL ELSE failing_since END,
       updated_at = now()
     WHERE id = $1 AND account_id = $2 RETURNING ${ENDPOINT_COLUMNS}`,
  ),
  deleteEndpoint: sql(
    'webhooks.delete_endpoint',
    'DELETE FROM webhook_endpoints WHERE id = $1 AND account_id = $2',
  ),
  rotateEndpointSecret: sql(
    'webhooks.rotate_endpoint_secret',
    `UPDATE webhook_endpoints SET previous_secret = secret, secret = $3,
       previous_secret_expires_at = now() + make_interval(secs => $4::float8 / 1000), updated_at = now()
     WHERE id = $1 AND account_id = $2 RETURNING ${ENDPOINT_COLUMNS}`,
  ),
  rotateAccountSecret: sql(
    'webhooks.rotate_account_secret',
    `UPDATE accounts SET webhook_previous_secret = webhook_secret, webhook_secret = $2,
       webhook_previous_secret_expires_at = now() + make_interval(secs => $3::float8 / 1000)
     WHERE id = $1 RETURNING webhook_previous_secret_expires_at`,
  ),
  listMessages: sql(
    'webhooks.list_messages',
    `SELECT ${MESSAGE_COLUMNS} FROM webhook_messages
     WHERE account_id = $1 AND ($2::text IS NULL OR id < $2)
       AND ($3::text IS NULL OR image_id = $3) AND ($4::text IS NULL OR job_id = $4)
       AND ($5::text IS NULL OR endpoint_id = $5) AND ($6::text IS NULL OR status = $6)
     ORDER BY id DESC LIMIT $7`,
  ),
  getMessage: sql(
    'webhooks.get_message',
    `SELECT ${MESSAGE_COLUMNS}, payload FROM webhook_messages WHERE id = $1 AND account_id = $2`,
  ),
  attemptsFor: sql(
    'webhooks.attempts_for',
    `SELECT id, message_id, attempted_at, url, status_code, latency_ms, error, response_body
     FROM webhook_attempts WHERE message_id = ANY($1::text[]) ORDER BY attempted_at, id`,
  ),
  resetMessage: sql(
    'webhooks.reset_message',
    `UPDATE webhook_messages SET status = 'pending', next_attempt_at = now(), updated_at = now()
     WHERE id = $1 AND account_id = $2 RETURNING id`,
  ),
};
