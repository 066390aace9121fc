export * from './accounts.ts';
export * from './keys.ts';
export { countRequest, pruneRateWindows } from './rate-limit.ts';
