import { taskKind } from '@imgkit/queue';

/** One delivery of one webhook message (with its retries). */
export interface DeliverWebhookPayload {
  message_id: string;
}

export const DELIVER_WEBHOOK = taskKind<DeliverWebhookPayload>('deliver_webhook');
