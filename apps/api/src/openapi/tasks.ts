import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { ListTasksQuery, TaskSchema, TaskStatsSchema } from '../schemas/tasks.ts';
import { bearerAuth, problemResponses, z } from '../schemas/zod.ts';

const security = [{ [bearerAuth.name]: [] }];
const json = (schema: z.ZodType, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

export function registerTaskPaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'get',
    path: '/v1/tasks/stats',
    summary: 'The account’s waiting, running and failed image and job tasks, by kind and status',
    security,
    responses: { 200: json(TaskStatsSchema, 'Counts'), ...problemResponses(401, 429, 503) },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/tasks',
    summary: 'The account’s failed tasks, newest first',
    security,
    request: { query: ListTasksQuery },
    responses: {
      200: json(
        z.object({ object: z.literal('list'), data: z.array(TaskSchema), has_more: z.boolean() }),
        'Failed tasks',
      ),
      ...problemResponses(400, 401, 429, 503),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/tasks/{id}/retry',
    summary: 'Requeue a failed task with a fresh attempt budget (its image or job is reopened)',
    security,
    request: { params: z.object({ id: z.string() }) },
    responses: { 200: json(TaskSchema, 'Requeued'), ...problemResponses(401, 404, 429, 503) },
  });
}
