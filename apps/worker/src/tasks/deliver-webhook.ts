import { query, withTransaction } from '@imgkit/db';
import { type ClaimedTask, permanentError, retryableError, type TaskKindDefinition } from '@imgkit/queue';
import {
  DELIVER_WEBHOOK,
  judge,
  loadMessageForDelivery,
  webhookQueries as Q,
  recordAttempt,
  sendSigned,
} from '@imgkit/webhooks';
import type { TaskDeps } from './index.ts';

interface Payload {
  message_id: string;
}

/**
 * deliver_webhook: one signed POST per attempt, every attempt logged; retries
 * follow WEBHOOK_RETRY_SCHEDULE (or the receiver's Retry-After); 410 disables
 * the endpoint; an endpoint failing for WEBHOOK_DISABLE_AFTER_HOURS is disabled.
 */
export function deliverWebhookTask(deps: TaskDeps): TaskKindDefinition {
  const { config, pool, fetcher } = deps;
  const schedule = config.WEBHOOK_RETRY_SCHEDULE;
  return {
    kind: DELIVER_WEBHOOK,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS + 10_000,
    async handler(payload, ctx) {
      const { message_id: id } = payload as Payload;
      const msg = await loadMessageForDelivery(pool, id);
      if (!msg || msg.status === 'delivered') return;
      if (msg.endpoint_id && msg.endpoint_enabled === false) {
        throw permanentError('endpoint_disabled', 'the webhook endpoint is disabled');
      }
      const result = await sendSigned(fetcher, msg, {
        timeoutMs: config.WEBHOOK_TIMEOUT_MS,
        signal: ctx.signal,
      });
      await recordAttempt(pool, msg, result);
      const verdict = judge(result);
      if (verdict.kind === 'delivered') {
        await withTransaction(pool, async (tx) => {
          await query(tx, Q.markDelivered, [id, ctx.task.attempts]);
          if (msg.endpoint_id) await query(tx, Q.endpointSucceeded, [msg.endpoint_id]);
          await ctx.completeWithin(tx);
        });
        return;
      }
      if (verdict.kind === 'gone') {
        if (msg.endpoint_id)
          await query(pool, Q.disableEndpoint, [msg.endpoint_id, 'the receiver answered 410 Gone']);
        throw permanentError('receiver_gone', 'the receiver answered 410 Gone');
      }
      if (msg.endpoint_id) {
        const [row] = await query<{ too_long: boolean }>(pool, Q.endpointFailed, [
          msg.endpoint_id,
          config.WEBHOOK_DISABLE_AFTER_HOURS * 3600_000,
        ]);
        if (row?.too_long) {
          const reason = `failing continuously for more than ${config.WEBHOOK_DISABLE_AFTER_HOURS} hours`;
          await query(pool, Q.disableEndpoint, [msg.endpoint_id, reason]);
          throw permanentError('endpoint_disabled', `endpoint disabled: ${reason}`);
        }
      }
      const next = schedule[ctx.task.attempts] ?? schedule[schedule.length - 1];
      throw retryableError(verdict.blocked ? 'blocked_address' : 'delivery_failed', verdict.reason, {
        retryAfterMs: Math.max(next, verdict.retryAfterMs ?? 0),
      });
    },
    onRetry: async (tx, task, error, runAt) => {
      await query(tx, Q.markRetrying, [
        messageOf(task),
        task.attempts,
        `${error.code}: ${error.message}`,
        runAt,
      ]);
    },
    onFinalFailure: async (tx, task, error) => {
      await query(tx, Q.markFailed, [
        messageOf(task),
        Math.min(task.attempts, task.max_attempts),
        `${error.code}: ${error.message}`,
      ]);
    },
  };
}

function messageOf(task: ClaimedTask): string {
  return task.subject_id ?? (task.payload as Payload).message_id;
}
