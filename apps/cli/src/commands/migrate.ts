import { loadConfigOrExit, migrateDatabase, resolveDatabase } from '@imgkit/runtime';
import type { Output } from '../output.ts';

export async function runMigrate(out: Output): Promise<void> {
  const config = loadConfigOrExit();
  const db = await resolveDatabase(config);
  try {
    const applied = await migrateDatabase(db.url);
    out.print(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date', { applied });
  } finally {
    await db.embedded?.stop();
  }
}
