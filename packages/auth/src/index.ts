export * from './accounts.ts';
export * from './keys.ts';
export { pruneRateWindows, type RateDecision, RateLimiter, reserveRequests } from './rate-limit.ts';
