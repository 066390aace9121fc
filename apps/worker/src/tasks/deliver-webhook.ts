import { withTransaction } from '@imgkit/db';
import { permanentError, retryableError, type TaskKindDefinition } from '@imgkit/queue';
import {
  DELIVER_WEBHOOK,
  disableEndpoint,
  endpointFailing,
  judge,
  loadMessageForDelivery,
  markDelivered,
  markMessageFailed,
  markMessageRetrying,
  recordAttempt,
  sendSigned,
} from '@imgkit/webhooks';
import type { TaskSettings } from '../settings.ts';
import type { TaskDeps } from './deps.ts';
import { attemptsOf } from './media-task.ts';

/**
 * deliver_webhook: one signed POST per attempt, every attempt logged; retries
 * follow WEBHOOK_RETRY_SCHEDULE (or the receiver's Retry-After); 410 disables
 * the endpoint; an endpoint failing for WEBHOOK_DISABLE_AFTER_HOURS is disabled.
 */
export function deliverWebhookTask(deps: TaskDeps, settings: TaskSettings): TaskKindDefinition {
  const { pool, fetcher } = deps;
  const { retryScheduleMs: schedule, timeoutMs, disableAfterMs } = settings.webhooks;
  const messageOf = (task: { subject_id: string | null; payload: unknown }) =>
    task.subject_id ?? (task.payload as { message_id: string }).message_id;
  return {
    kind: DELIVER_WEBHOOK,
    timeoutMs: timeoutMs + 10_000,
    async handler({ message_id: id }, ctx) {
      const msg = await loadMessageForDelivery(pool, id);
      if (!msg || msg.status === 'delivered') return;
      if (msg.to_endpoint && msg.endpoint_id === null) {
        throw permanentError('endpoint_deleted', 'the webhook endpoint was deleted');
      }
      if (msg.endpoint_id && msg.endpoint_enabled === false) {
        throw permanentError('endpoint_disabled', 'the webhook endpoint is disabled');
      }
      const result = await sendSigned(fetcher, msg, { timeoutMs, signal: ctx.signal });
      await recordAttempt(pool, msg, result);
      const verdict = judge(result);
      if (verdict.kind === 'delivered') {
        await withTransaction(pool, async (tx) => {
          await markDelivered(tx, id, ctx.task.attempts, msg.endpoint_id);
          await ctx.completeWithin(tx);
        });
        return;
      }
      if (verdict.kind === 'gone') {
        if (msg.endpoint_id) await disableEndpoint(pool, msg.endpoint_id, 'the receiver answered 410 Gone');
        throw permanentError('receiver_gone', 'the receiver answered 410 Gone');
      }
      if (msg.endpoint_id && (await endpointFailing(pool, msg.endpoint_id, disableAfterMs))) {
        const reason = `failing continuously for more than ${disableAfterMs / 3600_000} hours`;
        await disableEndpoint(pool, msg.endpoint_id, reason);
        throw permanentError('endpoint_disabled', `endpoint disabled: ${reason}`);
      }
      const next = schedule[ctx.task.attempts] ?? schedule[schedule.length - 1];
      throw retryableError(verdict.blocked ? 'blocked_address' : 'delivery_failed', verdict.reason, {
        retryAfterMs: Math.max(next, verdict.retryAfterMs ?? 0),
      });
    },
    onRetry: (tx, task, error, runAt) =>
      markMessageRetrying(tx, messageOf(task), {
        attempts: task.attempts,
        lastError: `${error.code}: ${error.message}`,
        nextAttemptAt: runAt,
      }),
    onFinalFailure: (tx, task, error) =>
      markMessageFailed(tx, messageOf(task), {
        attempts: attemptsOf(task),
        lastError: `${error.code}: ${error.message}`,
      }),
  };
}
