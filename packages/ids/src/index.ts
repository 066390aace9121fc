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
  return `${ID_PREFIXES[kind]}_${KSUID.randomSync().string}`;
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
