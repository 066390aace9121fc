import { runner } from 'node-pg-migrate';

/** A folder of SQL migrations and the table that records which of them ran. */
export interface MigrationSet {
  dir: string;
  table: string;
}

/**
 * Applies the pending migrations of each set, in order. node-pg-migrate holds an
 * advisory lock while it runs, in `wait` mode: a second process (the api and the
 * worker start together, or several machines deploy at once) waits for the first
 * and then finds nothing left to apply, instead of failing.
 */
export async function migrate(
  databaseUrl: string,
  sets: readonly MigrationSet[],
  log: (msg: string) => void = () => {},
): Promise<string[]> {
  const applied: string[] = [];
  for (const set of sets) {
    const ran = await runner({
      databaseUrl,
      dir: set.dir,
      direction: 'up',
      migrationsTable: set.table,
      checkOrder: true,
      advisoryLockMode: 'wait',
      log,
      logger: { debug: () => {}, info: log, warn: log, error: log },
    });
    applied.push(...ran.map((m) => m.name));
  }
  return applied;
}
