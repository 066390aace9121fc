import { pruneRateWindows } from '@imgkit/auth';
import type { Pool } from '@imgkit/db';
import { pruneIdempotencyKeys } from '@imgkit/idempotency';
import type { Logger } from '@imgkit/log';
import { pruneMessages } from '@imgkit/webhooks';

/**
 * Tables that only grow unless someone deletes from them: finished rate-limit windows,
 * idempotency keys past their 24 hours, and delivered or failed webhook messages past
 * WEBHOOK_LOG_RETENTION_HOURS (their attempts go with them). Every worker runs it every
 * 10 minutes; the deletes are batched and idempotent, so several workers do not conflict.
 * (Finished tasks are pruned by the queue itself.)
 */
export function startHousekeeping(deps: { pool: Pool; logger: Logger; webhookLogRetentionMs: number }) {
  const run = async () => {
    try {
      const removed = {
        rate_limit_windows: await pruneRateWindows(deps.pool),
        idempotency_keys: await pruneIdempotencyKeys(deps.pool),
        webhook_messages: await pruneMessages(deps.pool, deps.webhookLogRetentionMs),
      };
      if (Object.values(removed).some((n) => n > 0)) deps.logger.info({ removed }, 'housekeeping');
    } catch (err) {
      deps.logger.warn({ err }, 'housekeeping failed; it runs again in 10 minutes');
    }
  };
  void run();
  const timer = setInterval(run, 10 * 60_000);
  timer.unref();
  return { stop: () => clearInterval(timer), run };
}
