import type { Pool } from '@imgkit/db';
import { isId } from '@imgkit/ids';
import { failedTasksFor, taskStatsFor } from '@imgkit/queue';
import { retryFailedTask } from '@imgkit/runtime';
import { Router } from 'express';
import { principalOf } from '../middleware/auth.ts';
import { problems } from '../problem.ts';
import { ListTasksQuery } from '../schemas/tasks.ts';
import { fieldErrors } from '../schemas/zod.ts';

/**
 * The account's view of the queue: its image and job tasks that are waiting, running or
 * failed (webhook deliveries have their own log, /v1/webhook-messages), and retry.
 */
export function tasksRouter(deps: { pool: Pool }): Router {
  const router = Router();

  router.get('/v1/tasks/stats', async (_req, res) => {
    const stats = await taskStatsFor(deps.pool, principalOf(res).accountId);
    const ready = stats.map((s) => s.oldest_ready_age_seconds).filter((a): a is number => a !== null);
    res.json({
      object: 'task_stats',
      data: stats,
      oldest_ready_age_seconds: ready.length ? Math.max(...ready) : null,
    });
  });

  router.get('/v1/tasks', async (req, res) => {
    const parsed = ListTasksQuery.safeParse(req.query);
    if (!parsed.success) throw problems.validation(fieldErrors(parsed.error));
    const { limit, starting_after } = parsed.data;
    const rows = await failedTasksFor(deps.pool, principalOf(res).accountId, limit + 1, starting_after);
    res.json({
      object: 'list',
      data: rows.slice(0, limit).map((t) => ({
        id: t.id,
        object: 'task',
        kind: t.kind,
        status: 'failed',
        subject_id: t.subject_id,
        attempts: t.attempts,
        max_attempts: t.max_attempts,
        error: t.last_error
          ? { code: t.last_error.code ?? null, message: t.last_error.message ?? null }
          : null,
        finished_at: t.finished_at?.toISOString() ?? null,
      })),
      has_more: rows.length > limit,
    });
  });

  router.post('/v1/tasks/:id/retry', async (req, res) => {
    const id = String(req.params.id);
    const task = isId('task', id)
      ? await retryFailedTask(deps.pool, id, principalOf(res).accountId)
      : undefined;
    if (!task) throw problems.notFound(`No failed task ${JSON.stringify(id)} of this account.`);
    res.json({
      id: task.id,
      object: 'task',
      kind: task.kind,
      status: 'pending',
      subject_id: task.subject_id,
    });
  });

  return router;
}
