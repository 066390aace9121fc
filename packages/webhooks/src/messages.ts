import { type Pool, type Queryable, query, queryOne, sql, withTransaction } from '@imgkit/db';
import { enqueueDelivery } from './outbox.ts';

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

const COLUMNS = `id, account_id, endpoint_id, url, event_type, image_id, job_id, status, attempts, last_error,
  next_attempt_at, delivered_at, created_at, updated_at`;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** The public delivery-log record: the message and every attempt. */
export function messageJson(row: MessageRow, attempts: AttemptRow[]) {
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

export type MessageJson = ReturnType<typeof messageJson>;

const listSql = sql(
  'webhooks.list_messages',
  `SELECT ${COLUMNS} FROM webhook_messages
   WHERE account_id = $1 AND ($2::text IS NULL OR id < $2)
     AND ($3::text IS NULL OR image_id = $3) AND ($4::text IS NULL OR job_id = $4)
     AND ($5::text IS NULL OR endpoint_id = $5) AND ($6::text IS NULL OR status = $6)
   ORDER BY id DESC LIMIT $7`,
);
const attemptsForSql = sql(
  'webhooks.attempts_for',
  `SELECT id, message_id, attempted_at, url, status_code, latency_ms, error, response_body
   FROM webhook_attempts WHERE message_id = ANY($1::text[]) ORDER BY attempted_at, id`,
);

export interface MessageFilter {
  limit: number;
  startingAfter?: string;
  imageId?: string;
  jobId?: string;
  endpointId?: string;
  status?: string;
}

/** A page of the account's delivery log, newest first, with each message's attempts. */
export async function listMessages(
  db: Queryable,
  accountId: string,
  f: MessageFilter,
): Promise<{ data: MessageJson[]; hasMore: boolean }> {
  const rows = await query<MessageRow>(db, listSql, [
    accountId,
    f.startingAfter ?? null,
    f.imageId ?? null,
    f.jobId ?? null,
    f.endpointId ?? null,
    f.status ?? null,
    f.limit + 1,
  ]);
  const page = rows.slice(0, f.limit);
  const attempts = await query<AttemptRow>(db, attemptsForSql, [page.map((r) => r.id)]);
  return {
    data: page.map((m) =>
      messageJson(
        m,
        attempts.filter((a) => a.message_id === m.id),
      ),
    ),
    hasMore: rows.length > f.limit,
  };
}

const getSql = sql(
  'webhooks.get_message',
  `SELECT ${COLUMNS}, payload FROM webhook_messages WHERE id = $1 AND account_id = $2`,
);

export async function getMessage(
  db: Queryable,
  id: string,
  accountId: string,
): Promise<MessageJson | undefined> {
  const row = await queryOne<MessageRow>(db, getSql, [id, accountId]);
  if (!row) return undefined;
  return messageJson(row, await query<AttemptRow>(db, attemptsForSql, [[id]]));
}

const resetSql = sql(
  'webhooks.reset_message',
  `UPDATE webhook_messages SET status = 'pending', next_attempt_at = now(), updated_at = now()
   WHERE id = $1 AND account_id = $2 AND NOT (to_endpoint AND endpoint_id IS NULL) RETURNING id`,
);
const existsSql = sql(
  'webhooks.message_exists',
  'SELECT id FROM webhook_messages WHERE id = $1 AND account_id = $2',
);

/**
 * Delivers a message again: a fresh delivery with a fresh attempt budget; a delivery
 * already queued is not doubled. A message for a deleted endpoint is never sent again.
 */
export async function redeliverMessage(
  pool: Pool,
  id: string,
  accountId: string,
  maxAttempts: number,
): Promise<'queued' | 'not_found' | 'endpoint_deleted'> {
  return withTransaction(pool, async (tx) => {
    const row = await queryOne(tx, resetSql, [id, accountId]);
    if (!row) return (await queryOne(tx, existsSql, [id, accountId])) ? 'endpoint_deleted' : 'not_found';
    await enqueueDelivery(tx, id, maxAttempts);
    return 'queued';
  });
}

const pruneSql = sql(
  'webhooks.prune_messages',
  `DELETE FROM webhook_messages WHERE id IN (
     SELECT id FROM webhook_messages
     WHERE status <> 'pending' AND updated_at < now() - make_interval(secs => $1::float8 / 1000)
     LIMIT 1000
   )`,
);

/** Delivered and failed messages (with their attempts) older than the retention, in batches. */
export async function pruneMessages(db: Queryable, retentionMs: number): Promise<number> {
  let total = 0;
  for (;;) {
    const r = await db.query({ name: pruneSql.name, text: pruneSql.text, values: [retentionMs] });
    total += r.rowCount ?? 0;
    if ((r.rowCount ?? 0) < 1000) return total;
  }
}
