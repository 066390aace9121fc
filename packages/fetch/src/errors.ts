export type FetchErrorCode =
  | 'invalid_url'
  | 'blocked_address'
  | 'too_many_redirects'
  | 'redirect_not_followed'
  | 'too_large'
  | 'timeout'
  | 'dns_failed'
  | 'connect_failed'
  | 'connection_reset'
  | 'tls_failed'
  | 'aborted';

const RETRYABLE = new Set<FetchErrorCode>(['timeout', 'dns_failed', 'connect_failed', 'connection_reset']);

/** Every way a safe fetch can fail, with a stable code and whether trying again may help. */
export class FetchError extends Error {
  override name = 'FetchError';
  readonly code: FetchErrorCode;
  readonly retryable: boolean;
  constructor(code: FetchErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.code = code;
    this.retryable = RETRYABLE.has(code);
  }
}

/** Walks the cause chain (undici wraps connector errors) and names what went wrong. */
export function toFetchError(err: unknown, what: string): FetchError {
  for (let e: unknown = err, depth = 0; e && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof FetchError) return e;
  }
  const codes: string[] = [];
  const names: string[] = [];
  for (let e: unknown = err, depth = 0; e && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    const c = (e as { code?: string }).code;
    if (c) codes.push(c);
    const n = (e as { name?: string }).name;
    if (n) names.push(n);
  }
  const has = (...cs: string[]) => cs.some((c) => codes.includes(c) || names.includes(c));
  const message = err instanceof Error ? err.message : String(err);
  if (
    has(
      'TimeoutError',
      'UND_ERR_CONNECT_TIMEOUT',
      'UND_ERR_HEADERS_TIMEOUT',
      'UND_ERR_BODY_TIMEOUT',
      'ETIMEDOUT',
    )
  ) {
    return new FetchError('timeout', `${what} timed out`, { cause: err });
  }
  if (has('AbortError')) return new FetchError('aborted', `${what} was aborted`, { cause: err });
  if (has('ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME')) {
    return new FetchError('dns_failed', `${what}: host not found`, { cause: err });
  }
  if (has('ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH')) {
    return new FetchError('connect_failed', `${what}: connection refused`, { cause: err });
  }
  if (has('ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED')) {
    return new FetchError('connection_reset', `${what}: connection reset`, { cause: err });
  }
  if (codes.some((c) => c.startsWith('ERR_TLS') || c.includes('CERT'))) {
    return new FetchError('tls_failed', `${what}: TLS failed (${codes.join(', ')})`, { cause: err });
  }
  return new FetchError('connection_reset', `${what} failed: ${message}`, { cause: err });
}
