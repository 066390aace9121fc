import { isId } from '@imgkit/ids';
import { taskStats } from '@imgkit/queue';
import { retryFailedTask } from '@imgkit/runtime';
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
      const task = await retryFailedTask(pool, id, null);
      if (!task) throw new CliError(`no failed task ${id}`);
      out.print(`requeued ${task.id} (${task.kind})`, { task });
    });
    return;
  }
  throw new CliError('usage: imgkit tasks stats | tasks retry TASK_ID');
}
