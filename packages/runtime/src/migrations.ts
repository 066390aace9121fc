import { fileURLToPath } from 'node:url';
import { type MigrationSet, migrate } from '@imgkit/db';
import { QUEUE_MIGRATIONS } from '@imgkit/queue';

/** The application's tables (accounts, images, jobs, webhooks, …), in `migrations/` at the root. */
export const APP_MIGRATIONS: MigrationSet = {
  dir: fileURLToPath(new URL('../../../migrations', import.meta.url)),
  table: 'pgmigrations',
};

/** Every migration imgkit needs, in order: the queue's first (the application's functions use its table). */
export const ALL_MIGRATIONS: readonly MigrationSet[] = [QUEUE_MIGRATIONS, APP_MIGRATIONS];

/** Safe to run from several processes at once: each waits for the migration lock. */
export function migrateDatabase(url: string, log?: (msg: string) => void): Promise<string[]> {
  return migrate(url, ALL_MIGRATIONS, log);
}
