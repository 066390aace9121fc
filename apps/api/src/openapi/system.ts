import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { ProblemSchema, z } from '../schemas/zod.ts';

const Health = z.object({
  status: z.string(),
  database: z.string().optional(),
  storage: z.string().optional(),
});

export function registerHealthPaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'get',
    path: '/healthz',
    summary: 'Liveness',
    responses: {
      200: { description: 'The process is up', content: { 'application/json': { schema: Health } } },
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/readyz',
    summary: 'Readiness: the database and the blob store answer',
    responses: {
      200: { description: 'Ready', content: { 'application/json': { schema: Health } } },
      503: {
        description:
          'Not ready: draining (shutting_down), or the database (database_unavailable) or blob store (storage_unavailable) does not answer; Retry-After is set',
        content: { 'application/problem+json': { schema: ProblemSchema } },
      },
    },
  });
}

export function registerMetricsPath(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics (text exposition format)',
    responses: { 200: { description: 'Metrics', content: { 'text/plain': { schema: z.string() } } } },
  });
}
