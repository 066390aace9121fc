import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Standard Webhooks (https://www.standardwebhooks.com/) signatures:
 * `v1,` + base64(HMAC-SHA256(secret bytes, "<msg id>.<timestamp>.<body>")),
 * secrets `whsec_` + base64 of the key bytes.
 */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

function secretBytes(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
}

export function signWebhook(secret: string, msgId: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', secretBytes(secret))
    .update(`${msgId}.${timestamp}.${body}`)
    .digest('base64');
  return `v1,${mac}`;
}

/** The `webhook-signature` header: one signature per active secret, space-separated (rotation). */
export function signatureHeader(secrets: string[], msgId: string, timestamp: number, body: string): string {
  return secrets.map((s) => signWebhook(s, msgId, timestamp, body)).join(' ');
}

/** Verification as a receiver does it; used by our own tests of the ping route and the CLI. */
export function verifyWebhook(
  secret: string,
  msgId: string,
  timestamp: number,
  body: string,
  header: string,
): boolean {
  const expected = Buffer.from(signWebhook(secret, msgId, timestamp, body));
  return header.split(' ').some((sig) => {
    const got = Buffer.from(sig);
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
}
