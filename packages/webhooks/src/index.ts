export {
  type AttemptResult,
  judge,
  loadMessageForDelivery,
  type MessageForDelivery,
  recordAttempt,
  sendSigned,
  type Verdict,
} from './deliver.ts';
export { EVENT_TYPES, type EventType, eventBody } from './events.ts';
export {
  DELIVER_WEBHOOK,
  enqueueDelivery,
  recordEvent,
  recordMessageFor,
  type WebhookEvent,
} from './outbox.ts';
export { Q as webhookQueries } from './queries.ts';
export { generateWebhookSecret, signatureHeader, signWebhook, verifyWebhook } from './signing.ts';
