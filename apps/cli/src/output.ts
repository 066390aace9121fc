import type { Config } from '@imgkit/config';
import { createPool, type Pool } from '@imgkit/db';
import { loadConfigOrExit, migrateDatabase, resolveDatabase } from '@imgkit/runtime';

export interface Output {
  json: boolean;
  /** Prints the human text, or with --json exactly the one JSON object. */
  print(human: string, json: unknown): void;
}

/** A usage or input mistake: exit code 2, message without a stack. */
export class CliError extends Error {
  override name = 'CliError';
}

/**
 * Runs `fn` with a pool on DATABASE_URL or on the embedded cluster of DATA_DIR
 * (started for the duration when `npm start` is not running it; never created here).
 */
export async function withDatabase<T>(fn: (pool: Pool, config: Readonly<Config>) => Promise<T>): Promise<T> {
  // An operator command creates nothing: in a folder with no imgkit data it says so and stops.
  const config = loadConfigOrExit(process.env, { createLocalSecrets: false });
  const db = await resolveDatabase(config, { create: false });
  const pool = createPool({ connectionString: db.url, max: 2, applicationName: 'imgkit-cli' });
  try {
    await migrateDatabase(db.url);
    return await fn(pool, config);
  } finally {
    await pool.end();
    await db.embedded?.stop();
  }
}
