import { fileURLToPath } from 'node:url';

/** The queue's own migrations (the tasks table and its functions), run before the application's. */
export const QUEUE_MIGRATIONS = {
  dir: fileURLToPath(new URL('../migrations', import.meta.url)),
  table: 'pgmigrations_queue',
} as const;
