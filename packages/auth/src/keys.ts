import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API keys: `ik_live_` + 22 base62 chars (128 random bits) + 6 base62 chars of
 * CRC-32 over the random part. The fixed shape and checksum let secret scanners
 * recognise a leaked key and let us reject typos without a database round trip.
 */
export const KEY_PREFIX = 'ik_live_';
const BODY_LENGTH = 22;
const CHECKSUM_LENGTH = 6;
const KEY_PATTERN = new RegExp(
  `^${KEY_PREFIX}([0-9A-Za-z]{${BODY_LENGTH}})([0-9A-Za-z]{${CHECKSUM_LENGTH}})$`,
);
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export function generateApiKey(): string {
  const body = toBase62(BigInt(`0x${randomBytes(16).toString('hex')}`), BODY_LENGTH);
  return `${KEY_PREFIX}${body}${checksumOf(body)}`;
}

/** Shape and checksum only; says nothing about whether the key exists. */
export function isWellFormedApiKey(key: string): boolean {
  const m = KEY_PATTERN.exec(key);
  return m !== null && checksumOf(m[1]) === m[2];
}

export function digestApiKey(secretKey: string, key: string): Buffer {
  return createHmac('sha256', secretKey).update(key).digest();
}

export function digestsEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** What we show in listings: enough to recognise a key, useless to an attacker. */
export function displayPrefix(key: string): string {
  return `${key.slice(0, KEY_PREFIX.length + 4)}…`;
}

function checksumOf(body: string): string {
  return toBase62(BigInt(crc32(Buffer.from(body, 'ascii'))), CHECKSUM_LENGTH);
}

function toBase62(n: bigint, width: number): string {
  let out = '';
  let rest = n;
  while (rest > 0n) {
    out = BASE62[Number(rest % 62n)] + out;
    rest /= 62n;
  }
  return out.padStart(width, '0');
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const b of bytes) crc = CRC_TABLE[(crc ^ b) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
