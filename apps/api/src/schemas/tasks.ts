import { named, z } from './zod.ts';

export const ListTasksQuery = z.strictObject({
  status: z.literal('failed').default('failed').openapi({ description: 'Only failed tasks are listed' }),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  starting_after: z.string().optional(),
});

export const TaskStatsSchema = named(
  'TaskStats',
  z.object({
    object: z.literal('task_stats'),
    data: z.array(
      z.object({
        kind: z.string(),
        status: z.enum(['pending', 'running', 'failed']),
        count: z.number().int(),
        oldest_ready_age_seconds: z.number().nullable(),
      }),
    ),
    oldest_ready_age_seconds: z
      .number()
      .nullable()
      .openapi({ description: 'How long the oldest task that could run has waited' }),
  }),
);

export const TaskSchema = named(
  'Task',
  z.object({
    id: z.string(),
    object: z.literal('task'),
    kind: z.string(),
    status: z.string(),
    subject_id: z.string().nullable().openapi({ description: 'The image or job it works on' }),
    attempts: z.number().int().optional(),
    max_attempts: z.number().int().optional(),
    error: z.object({ code: z.string().nullable(), message: z.string().nullable() }).nullable().optional(),
    finished_at: z.string().nullable().optional(),
  }),
);
