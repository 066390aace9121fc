export { isPublicAddress } from './address.ts';
export { checkPublicUrl } from './check-url.ts';
export { FetchError, type FetchErrorCode } from './errors.ts';
export { parseRetryAfter } from './retry-after.ts';
export {
  DEFAULT_USER_AGENT,
  type FetchOptions,
  type Lookup,
  SafeFetcher,
  type SafeFetcherOptions,
  type SafeResponse,
} from './safe-fetch.ts';
