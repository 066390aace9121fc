import { randomFillSync } from 'node:crypto';
import KSUID from 'ksuid';

/** Every resource id is a KSUID behind a short prefix, so ids sort by creation time. */
export const ID_PREFIXES = {
  account: 'acc',
  key: 'key',
  image: 'img',
  job: 'job',
  task: 'tsk',
  webhookEndpoint: 'whe',
  webhookMessage: 'msg',
  attempt: 'att',
} as const;

export type IdKind = keyof typeof ID_PREFIXES;
export type IdPrefix = (typeof ID_PREFIXES)[IdKind];

const KSUID_BODY = /^[0-9A-Za-z]{27}$/;

export function newId(kind: IdKind): string {
  return `${ID_PREFIXES[kind]}_${nextKsuid(Date.now())}`;
}

// The api makes two ids per request; the ksuid package's randomSync() draws 16 random bytes
// from the system per id and base62-encodes through a generic base converter, together a
// tenth of the api's CPU per create. The same ids are built here from a pool of random bytes
// (refilled 4 KiB at a time, the way crypto.randomUUID() pools) and a fixed-width encoder;
// the ksuid package still parses them (isId) and the tests compare both encoders.
const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let poolOffset = POOL_BYTES;

function randomBytes(n: number): Buffer {
  if (poolOffset + n > POOL_BYTES) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const bytes = pool.subarray(poolOffset, poolOffset + n);
  poolOffset += n;
  return bytes;
}

// Ids this process makes are strictly ascending, also within one second (a KSUID's clock):
// the first id of a second takes a random payload, each next one the previous payload plus a
// random step of 1 to 2³². So rows inserted together (the tasks of one enqueue, which share
// their run_at) are claimed in the order they were made — FIFO — and sit in the table and
// its primary key in that order: claiming them in random order re-read and re-pruned every
// heap page of the batch at every claim (bench/queue: ~13,000 page prunes per 20,000 tasks
// against ~740, and a quarter more PostgreSQL CPU per task). The random step keeps the next id
// unguessable (2³² candidates), and a payload that starts below 2¹²⁷ cannot overflow before
// 2⁹⁵ ids in one second. A clock that steps back keeps the last second until it catches up.
let lastSecond = 0;
const payloadWords = new Uint32Array(4);

/** The body of the next id this process makes at `timeMs` (newId passes the clock). */
export function nextKsuid(timeMs: number): string {
  const second = Math.floor(timeMs / 1000);
  if (second > lastSecond) {
    lastSecond = second;
    const b = randomBytes(16);
    for (let i = 0; i < 4; i++) payloadWords[i] = b.readUInt32BE(i * 4);
    payloadWords[0] &= 0x7fffffff;
  } else {
    // + (random 32-bit value + 1), carried up through the words
    let carry = randomBytes(4).readUInt32BE(0) + 1;
    for (let i = 3; i >= 0 && carry > 0; i--) {
      const sum = payloadWords[i] + carry;
      payloadWords[i] = sum >>> 0;
      carry = sum > 0xffffffff ? Math.floor(sum / 4294967296) : 0;
    }
  }
  return encode(lastSecond - KSUID_EPOCH_SECONDS, payloadWords);
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const KSUID_EPOCH_SECONDS = 14e8;

/** The 27-character KSUID of a time (ms since 1970) and a 16-byte payload. */
export function ksuidString(timeMs: number, payload: Uint8Array): string {
  const words = new Uint32Array(4);
  for (let i = 0; i < 4; i++) {
    const o = i * 4;
    words[i] = ((payload[o] << 24) | (payload[o + 1] << 16) | (payload[o + 2] << 8) | payload[o + 3]) >>> 0;
  }
  return encode(Math.floor(timeMs / 1000) - KSUID_EPOCH_SECONDS, words);
}

/** Base62 of the 20 bytes (a 32-bit KSUID timestamp, then the payload's four words). */
function encode(timestamp: number, payload: Uint32Array): string {
  // The 20 bytes as five big-endian 32-bit words, divided by 62 twenty-seven times.
  const words = new Uint32Array(5);
  words[0] = timestamp;
  words.set(payload, 1);
  const out = new Array<string>(27);
  for (let d = 26; d >= 0; d--) {
    let remainder = 0;
    for (let i = 0; i < 5; i++) {
      // remainder < 62, so remainder·2³² + word < 2³⁸: exact in a double.
      const value = remainder * 4294967296 + words[i];
      const q = Math.floor(value / 62);
      words[i] = q;
      remainder = value - q * 62;
    }
    out[d] = BASE62[remainder];
  }
  return out.join('');
}

/** True when `value` is a well-formed id of the given kind (right prefix, valid KSUID body). */
export function isId(kind: IdKind, value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const prefix = `${ID_PREFIXES[kind]}_`;
  if (!value.startsWith(prefix)) return false;
  const body = value.slice(prefix.length);
  return KSUID_BODY.test(body) && parsesAsKsuid(body);
}

/** Creation time encoded in an id; undefined for a malformed one. */
export function idTimestamp(value: string): Date | undefined {
  const underscore = value.indexOf('_');
  try {
    return KSUID.parse(value.slice(underscore + 1)).date;
  } catch {
    return undefined;
  }
}

/** A 27-character base62 string can still overflow 20 bytes; KSUID.parse rejects that. */
function parsesAsKsuid(body: string): boolean {
  try {
    KSUID.parse(body);
    return true;
  } catch {
    return false;
  }
}
