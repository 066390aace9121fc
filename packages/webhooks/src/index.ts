export {
  type AttemptResult,
  judge,
  loadMessageForDelivery,
  type MessageForDelivery,
  recordAttempt,
  sendSigned,
  type Verdict,
} from './deliver.ts';
export { DELIVER_WEBHOOK, type DeliverWebhookPayload } from './deliver-kind.ts';
export {
  disableEndpoint,
  endpointFailing,
  markDelivered,
  markMessageFailed,
  markMessageRetrying,
  reopenMessage,
} from './delivery-state.ts';
export {
  accountWebhookSecret,
  createEndpoint,
  deleteEndpoint,
  type EndpointRow,
  endpointJson,
  getEndpoint,
  listEndpoints,
  rotateAccountSecret,
  rotateEndpointSecret,
  updateEndpoint,
} from './endpoints.ts';
export { EVENT_TYPES, type EventType, eventBody } from './events.ts';
export {
  getMessage,
  listMessages,
  type MessageFilter,
  type MessageJson,
  messageJson,
  pruneMessages,
  redeliverMessage,
} from './messages.ts';
export { enqueueDelivery, recordEvent, recordMessageFor, type WebhookEvent } from './outbox.ts';
export { generateWebhookSecret, signatureHeader, signWebhook, verifyWebhook } from './signing.ts';
