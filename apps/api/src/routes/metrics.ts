import { type Pool, query, sql } from '@imgkit/db';
import { gauge, type Registry } from '@imgkit/metrics';
import { Router } from 'express';
import { registry, z } from '../schemas/zod.ts';

const queueDepth = sql(
  'metrics.queue_depth',
  `SELECT kind, status, count(*)::int AS n,
          coalesce(extract(epoch FROM now() - min(run_at) FILTER (WHERE status = 'pending' AND run_at <= now())), 0)::float8
            AS oldest_ready_seconds
   FROM tasks GROUP BY kind, status`,
);

/**
 * GET /metrics (Prometheus text): HTTP latency by route template, and queue depth by
 * kind and status with the age of the oldest ready task, read from the database at
 * scrape time so every api process reports the same queue. Task outcomes and
 * fetch/decode durations are served by each worker (METRICS_HOST).
 */
export function metricsRouter(deps: { pool: Pool; registry: Registry }): Router {
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    const rows = await query<{ kind: string; status: string; n: number; oldest_ready_seconds: number }>(
      deps.pool,
      queueDepth,
    );
    const extra = [
      gauge(
        'imgkit_tasks',
        'Tasks by kind and status',
        rows.map((r) => ({ labels: { kind: r.kind, status: r.status }, value: r.n })),
      ),
      gauge(
        'imgkit_oldest_ready_task_age_seconds',
        'Age of the oldest task that is ready to run, by kind',
        rows
          .filter((r) => r.status === 'pending')
          .map((r) => ({ labels: { kind: r.kind }, value: r.oldest_ready_seconds })),
      ),
    ];
    res.type('text/plain; version=0.0.4').send(deps.registry.render(extra));
  });
  return router;
}

registry.registerPath({
  method: 'get',
  path: '/metrics',
  summary: 'Prometheus metrics (text exposition format)',
  responses: { 200: { description: 'Metrics', content: { 'text/plain': { schema: z.string() } } } },
});
