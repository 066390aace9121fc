import { type Queryable, query, queryOne, sql } from '@imgkit/db';
import { FetchError, parseRetryAfter, type SafeFetcher } from '@imgkit/fetch';
import { newId } from '@imgkit/ids';
import { generateWebhookSecret, signatureHeader } from './signing.ts';

const messageForDeliverySql = sql(
  'webhooks.message_for_delivery',
  `SELECT m.id, m.account_id, m.endpoint_id, m.to_endpoint, m.url, m.payload, m.status,
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
);
const ensureAccountSecretSql = sql(
  'webhooks.ensure_account_secret',
  `UPDATE accounts SET webhook_secret = coalesce(webhook_secret, $2) WHERE id = $1 RETURNING webhook_secret`,
);
const recordAttemptSql = sql(
  'webhooks.record_attempt',
  `INSERT INTO webhook_attempts (id, message_id, url, status_code, latency_ms, error, response_body)
   VALUES ($1, $2, $3, $4, $5, $6, $7)`,
);

export interface MessageForDelivery {
  id: string;
  account_id: string;
  endpoint_id: string | null;
  /** Addressed to an endpoint; with endpoint_id null, that endpoint was deleted. */
  to_endpoint: boolean;
  url: string;
  payload: string;
  status: string;
  endpoint_enabled: boolean | null;
  endpoint_url: string | null;
  secret: string | null;
  previous_secret: string | null;
}

export async function loadMessageForDelivery(
  db: Queryable,
  id: string,
): Promise<MessageForDelivery | undefined> {
  const msg = await queryOne<MessageForDelivery>(db, messageForDeliverySql, [id]);
  if (msg && !msg.secret) {
    // Accounts created before webhooks existed get their default secret on first use.
    const row = await queryOne<{ webhook_secret: string }>(db, ensureAccountSecretSql, [
      msg.account_id,
      generateWebhookSecret(),
    ]);
    msg.secret = row!.webhook_secret;
  }
  return msg;
}

export interface AttemptResult {
  statusCode: number | null;
  latencyMs: number;
  /** First 1 KiB of the answer. */
  responseBody: string | null;
  error: string | null;
  headers: Record<string, string>;
}

const RESPONSE_SNIPPET = 1024;

/** One signed POST; redirects are not followed (a 3xx is a failed attempt). */
export async function sendSigned(
  fetcher: SafeFetcher,
  msg: MessageForDelivery,
  options: { timeoutMs: number; signal?: AbortSignal; now?: () => number },
): Promise<AttemptResult> {
  const timestamp = Math.floor((options.now?.() ?? Date.now()) / 1000);
  const secrets = [msg.secret, msg.previous_secret].filter((s): s is string => Boolean(s));
  const started = performance.now();
  try {
    const res = await fetcher.fetch(msg.url, {
      method: 'POST',
      body: msg.payload,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'imgkit-webhooks/0.1 (+https://www.standardwebhooks.com/)',
        'webhook-id': msg.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signatureHeader(secrets, msg.id, timestamp, msg.payload),
      },
      maxRedirects: 0,
      maxBytes: RESPONSE_SNIPPET,
      truncate: { contentType: /.*/, bytes: RESPONSE_SNIPPET },
      timeoutMs: options.timeoutMs,
      signal: options.signal,
    });
    return {
      statusCode: res.status,
      latencyMs: Math.round(performance.now() - started),
      responseBody: res.body.toString('utf8'),
      error: null,
      headers: res.headers,
    };
  } catch (err) {
    const message = err instanceof FetchError ? `${err.code}: ${err.message}` : String(err);
    return {
      statusCode: null,
      latencyMs: Math.round(performance.now() - started),
      responseBody: null,
      error: message,
      headers: {},
    };
  }
}

export async function recordAttempt(
  db: Queryable,
  msg: MessageForDelivery,
  result: AttemptResult,
): Promise<void> {
  await query(db, recordAttemptSql, [
    newId('attempt'),
    msg.id,
    msg.url,
    result.statusCode,
    result.latencyMs,
    result.error,
    result.responseBody,
  ]);
}

export type Verdict =
  | { kind: 'delivered' }
  | { kind: 'gone' }
  | { kind: 'retry'; reason: string; retryAfterMs?: number; blocked?: boolean };

/** 2xx delivered; 410 gone for good; everything else (3xx, 4xx, 5xx, network) is tried again. */
export function judge(result: AttemptResult): Verdict {
  const s = result.statusCode;
  if (s === null)
    return {
      kind: 'retry',
      reason: result.error ?? 'no response',
      blocked: /^blocked_address/.test(result.error ?? ''),
    };
  if (s >= 200 && s < 300) return { kind: 'delivered' };
  if (s === 410) return { kind: 'gone' };
  const reason = s >= 300 && s < 400 ? `HTTP ${s} (redirects are not followed)` : `HTTP ${s}`;
  if (s === 429 || s === 503)
    return {
      kind: 'retry',
      reason,
      retryAfterMs: parseRetryAfter(result.headers['retry-after'], 24 * 3600_000),
    };
  return { kind: 'retry', reason };
}
