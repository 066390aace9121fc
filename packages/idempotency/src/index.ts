export {
  type CreateSteps,
  IdempotencyError,
  type IdempotencyScope,
  idempotentCreate,
  isValidIdempotencyKey,
  requestHash,
  type StoredResponse,
} from './idempotency.ts';
