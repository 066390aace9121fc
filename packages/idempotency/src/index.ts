export {
  type CreateSteps,
  IdempotencyError,
  type IdempotencyScope,
  idempotentCreate,
  isValidIdempotencyKey,
  pruneIdempotencyKeys,
  requestHash,
  type StoredResponse,
} from './idempotency.ts';
