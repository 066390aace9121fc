export * from './accounts.ts';
export * from './keys.ts';
export { countRequest } from './rate-limit.ts';
