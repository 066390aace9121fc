import { type Pool, withTransaction } from '@imgkit/db';
import { PROCESS_IMAGE, reopenImage } from '@imgkit/images';
import { RENDER_JOB, reopenJob } from '@imgkit/jobs';
import { requeueFailedTask } from '@imgkit/queue';
import { DELIVER_WEBHOOK, reopenMessage } from '@imgkit/webhooks';

/**
 * Requeues a failed task with a fresh attempt budget, and reopens the row it works on in the
 * same transaction (or the handler would find the image, job or message still failed and do
 * nothing). `fairKey` limits it to one account's tasks (the api); null for an operator (CLI).
 */
export async function retryFailedTask(
  pool: Pool,
  id: string,
  fairKey: string | null,
): Promise<{ id: string; kind: string; subject_id: string | null } | undefined> {
  return withTransaction(pool, async (tx) => {
    const requeued = await requeueFailedTask(tx, id, fairKey);
    if (!requeued?.subject_id) return requeued;
    if (requeued.kind === PROCESS_IMAGE.name) await reopenImage(tx, requeued.subject_id);
    else if (requeued.kind === RENDER_JOB.name) await reopenJob(tx, requeued.subject_id);
    else if (requeued.kind === DELIVER_WEBHOOK.name) await reopenMessage(tx, requeued.subject_id);
    return requeued;
  });
}
