import { type Pool, type Queryable, query, queryOne, sql, withTransaction } from '@imgkit/db';
import { newId } from '@imgkit/ids';
import { cancelTasksForSubjects } from '@imgkit/queue';
import { generateWebhookSecret } from './signing.ts';

export interface EndpointRow {
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

const COLUMNS = `id, account_id, url, description, events, enabled, disabled_reason, failing_since,
  previous_secret_expires_at, created_at, updated_at`;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** The public endpoint record; the secret only when it was just made (create, rotate). */
export function endpointJson(row: EndpointRow, secret?: string) {
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

const insertSql = sql(
  'webhooks.insert_endpoint',
  `INSERT INTO webhook_endpoints (id, account_id, url, description, events, enabled, secret)
   VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
);

export async function createEndpoint(
  db: Queryable,
  accountId: string,
  e: { url: string; description: string | null; events: string[]; enabled: boolean },
): Promise<{ row: EndpointRow; secret: string }> {
  const secret = generateWebhookSecret();
  const row = await queryOne<EndpointRow>(db, insertSql, [
    newId('webhookEndpoint'),
    accountId,
    e.url,
    e.description,
    e.events,
    e.enabled,
    secret,
  ]);
  return { row: row!, secret };
}

const listSql = sql(
  'webhooks.list_endpoints',
  `SELECT ${COLUMNS} FROM webhook_endpoints
   WHERE account_id = $1 AND ($2::text IS NULL OR id < $2) ORDER BY id DESC LIMIT $3`,
);

export async function listEndpoints(
  db: Queryable,
  accountId: string,
  page: { limit: number; startingAfter?: string },
): Promise<{ rows: EndpointRow[]; hasMore: boolean }> {
  const rows = await query<EndpointRow>(db, listSql, [accountId, page.startingAfter ?? null, page.limit + 1]);
  return { rows: rows.slice(0, page.limit), hasMore: rows.length > page.limit };
}

const getSql = sql(
  'webhooks.get_endpoint',
  `SELECT ${COLUMNS} FROM webhook_endpoints WHERE id = $1 AND account_id = $2`,
);

export function getEndpoint(db: Queryable, id: string, accountId: string): Promise<EndpointRow | undefined> {
  return queryOne<EndpointRow>(db, getSql, [id, accountId]);
}

const updateSql = sql(
  'webhooks.update_endpoint',
  `UPDATE webhook_endpoints SET
     url = coalesce($3, url), description = CASE WHEN $4::boolean THEN $5 ELSE description END,
     events = coalesce($6, events), enabled = coalesce($7, enabled),
     disabled_reason = CASE WHEN $7 IS TRUE THEN NULL ELSE disabled_reason END,
     failing_since = CASE WHEN $7 IS TRUE THEN NULL ELSE failing_since END,
     updated_at = now()
   WHERE id = $1 AND account_id = $2 RETURNING ${COLUMNS}`,
);

/** Changes only the fields given; `description: null` clears it. Re-enabling clears the failure state. */
export function updateEndpoint(
  db: Queryable,
  id: string,
  accountId: string,
  change: { url?: string; description?: string | null; events?: string[]; enabled?: boolean },
): Promise<EndpointRow | undefined> {
  return queryOne<EndpointRow>(db, updateSql, [
    id,
    accountId,
    change.url ?? null,
    change.description !== undefined,
    change.description ?? null,
    change.events ?? null,
    change.enabled ?? null,
  ]);
}

const deleteSql = sql(
  'webhooks.delete_endpoint',
  'DELETE FROM webhook_endpoints WHERE id = $1 AND account_id = $2 RETURNING id',
);
// Its undelivered messages end here: no later attempt, and their queued delivery tasks go.
const abandonSql = sql(
  'webhooks.abandon_endpoint_messages',
  `UPDATE webhook_messages SET status = 'failed', next_attempt_at = NULL, updated_at = now(),
     last_error = 'endpoint_deleted: the webhook endpoint was deleted'
   WHERE endpoint_id = $1 AND status = 'pending'
   RETURNING id`,
);

/**
 * Deletes an endpoint; its pending messages fail with endpoint_deleted in the same
 * transaction, so nothing more is sent to it (the delivery log is kept).
 */
export async function deleteEndpoint(pool: Pool, id: string, accountId: string): Promise<void> {
  await withTransaction(pool, async (tx) => {
    if (!(await queryOne(tx, getSql, [id, accountId]))) return;
    const abandoned = await query<{ id: string }>(tx, abandonSql, [id]);
    await cancelTasksForSubjects(
      tx,
      abandoned.map((m) => m.id),
    );
    await query(tx, deleteSql, [id, accountId]);
  });
}

const rotateSql = sql(
  'webhooks.rotate_endpoint_secret',
  `UPDATE webhook_endpoints SET previous_secret = secret, secret = $3,
     previous_secret_expires_at = now() + make_interval(secs => $4::float8 / 1000), updated_at = now()
   WHERE id = $1 AND account_id = $2 RETURNING ${COLUMNS}`,
);

/** A new secret; the old one keeps signing too for `overlapMs`. */
export async function rotateEndpointSecret(
  db: Queryable,
  id: string,
  accountId: string,
  overlapMs: number,
): Promise<{ row: EndpointRow; secret: string } | undefined> {
  const secret = generateWebhookSecret();
  const row = await queryOne<EndpointRow>(db, rotateSql, [id, accountId, secret, overlapMs]);
  return row && { row, secret };
}

const rotateAccountSql = sql(
  'webhooks.rotate_account_secret',
  `UPDATE accounts SET webhook_previous_secret = webhook_secret, webhook_secret = $2,
     webhook_previous_secret_expires_at = now() + make_interval(secs => $3::float8 / 1000)
   WHERE id = $1 RETURNING webhook_previous_secret_expires_at`,
);

/** The account's default secret (signs deliveries to images' and jobs' own webhook_url). */
export async function rotateAccountSecret(
  db: Queryable,
  accountId: string,
  overlapMs: number,
): Promise<{ secret: string; previous_secret_expires_at: string | null }> {
  const secret = generateWebhookSecret();
  const row = await queryOne<{ webhook_previous_secret_expires_at: Date }>(db, rotateAccountSql, [
    accountId,
    secret,
    overlapMs,
  ]);
  return { secret, previous_secret_expires_at: iso(row!.webhook_previous_secret_expires_at) };
}

const accountSecretSql = sql(
  'webhooks.account_secret',
  `UPDATE accounts SET webhook_secret = coalesce(webhook_secret, $2) WHERE id = $1 RETURNING webhook_secret`,
);

/** The account's default signing secret (made now if the account has none yet). */
export async function accountWebhookSecret(db: Queryable, accountId: string): Promise<string | undefined> {
  const row = await queryOne<{ webhook_secret: string }>(db, accountSecretSql, [
    accountId,
    generateWebhookSecret(),
  ]);
  return row?.webhook_secret;
}
