import { withTransaction } from '@imgkit/db';
import { isId } from '@imgkit/ids';
import { PROCESS_IMAGE, reopenImage } from '@imgkit/images';
import { RENDER_JOB, reopenJob } from '@imgkit/jobs';
import { requeueFailedTask, taskStats } from '@imgkit/queue';
import { DELIVER_WEBHOOK, reopenMessage } from '@imgkit/webhooks';
import { CliError, type Output, withDatabase } from '../output.ts';

export async function runTasks(out: Output, sub: string | undefined, id: string | undefined): Promise<void> {
  if (sub === 'stats') {
    await withDatabase(async (pool) => {
      const stats = await taskStats(pool);
      const lines = stats.map(
        (s) =>
          `${s.kind.padEnd(18)} ${s.status.padEnd(10)} ${String(s.count).padStart(8)}` +
          (s.oldest_ready_age_seconds !== null
            ? `   oldest ready: ${s.oldest_ready_age_seconds.toFixed(1)} s`
            : ''),
      );
      out.print(lines.join('\n') || '(no tasks)', { stats });
    });
    return;
  }
  if (sub === 'retry') {
    if (!id || !isId('task', id)) throw new CliError('usage: imgkit tasks retry tsk_…');
    await withDatabase(async (pool) => {
      // The task and the row it works on go back together, or the handler would find the
      // image (job, message) still failed and do nothing.
      const task = await withTransaction(pool, async (tx) => {
        const requeued = await requeueFailedTask(tx, id);
        if (!requeued?.subject_id) return requeued;
        if (requeued.kind === PROCESS_IMAGE.name) await reopenImage(tx, requeued.subject_id);
        else if (requeued.kind === RENDER_JOB.name) await reopenJob(tx, requeued.subject_id);
        else if (requeued.kind === DELIVER_WEBHOOK.name) await reopenMessage(tx, requeued.subject_id);
        return requeued;
      });
      if (!task) throw new CliError(`no failed task ${id}`);
      out.print(`requeued ${task.id} (${task.kind})`, { task });
    });
    return;
  }
  throw new CliError('usage: imgkit tasks stats | tasks retry TASK_ID');
}
