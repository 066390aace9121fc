import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/**
 * Standard Webhooks (https://www.standardwebhooks.com/) signatures, made and checked
 * by the reference `standardwebhooks` library: `v1,` + base64(HMAC-SHA256(secret bytes,
 * "<msg id>.<timestamp>.<body>")), secrets `whsec_` + base64 of 32 random bytes.
 */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export function signWebhook(secret: string, msgId: string, timestamp: number, body: string): string {
  return new Webhook(secret).sign(msgId, new Date(timestamp * 1000), body);
}

/** The `webhook-signature` header: one signature per active secret, space-separated (rotation). */
export function signatureHeader(secrets: string[], msgId: string, timestamp: number, body: string): string {
  return secrets.map((s) => signWebhook(s, msgId, timestamp, body)).join(' ');
}

/**
 * Verification as a receiver does it (used by our tests and the CLI). The library also
 * checks the timestamp against the clock, as receivers must.
 */
export function verifyWebhook(
  secret: string,
  msgId: string,
  timestamp: number,
  body: string,
  header: string,
): boolean {
  try {
    new Webhook(secret).verify(body, {
      'webhook-id': msgId,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': header,
    });
    return true;
  } catch {
    return false;
  }
}
