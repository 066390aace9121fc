import type { Pool } from '@imgkit/db';
import { EventLoopDelay, gauge, type Registry } from '@imgkit/metrics';
import { queueDepth } from '@imgkit/queue';
import { Router } from 'express';

/**
 * GET /metrics (Prometheus text): HTTP latency by route template, and queue depth by
 * kind and status with the age of the oldest ready task, read from the database at
 * scrape time so every api process reports the same queue. Task outcomes and
 * fetch/decode durations are served by each worker (METRICS_HOST).
 */
export function metricsRouter(deps: { pool: Pool; registry: Registry }): Router {
  const router = Router();
  const loop = new EventLoopDelay();
  router.get('/metrics', async (_req, res) => {
    const rows = await queueDepth(deps.pool);
    const extra = [
      loop.render(),
      gauge(
        'imgkit_tasks',
        'Unfinished tasks by kind and status (pending, running); finished ones are counted by each worker',
        rows.map((r) => ({ labels: { kind: r.kind, status: r.status }, value: r.count })),
      ),
      gauge(
        'imgkit_oldest_ready_task_age_seconds',
        'Age of the oldest task that is ready to run, by kind',
        rows
          .filter((r) => r.status === 'pending')
          .map((r) => ({ labels: { kind: r.kind }, value: r.oldest_ready_age_seconds ?? 0 })),
      ),
    ];
    res.type('text/plain; version=0.0.4').send(deps.registry.render(extra));
  });
  return router;
}
