import { randomBytes } from 'node:crypto';
import { createPool, type Pool } from '@imgkit/db';
import pg from 'pg';

export interface TestDatabase {
  url: string;
  pool: Pool;
}

function adminUrl(): string {
  const url = process.env.IMGKIT_TEST_ADMIN_URL;
  if (!url)
    throw new Error('run tests through `npm test` (it prepares the database), or set IMGKIT_TEST_ADMIN_URL');
  return url;
}

/** A fresh, migrated database for this test file, cloned from the template and dropped afterwards. */
export async function freshDatabase(): Promise<TestDatabase> {
  const name = `imgkit_t_${randomBytes(6).toString('hex')}`;
  const template = process.env.IMGKIT_TEST_TEMPLATE ?? 'imgkit_test_template';
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    // CREATE DATABASE … TEMPLATE fails if another session is connected to the template; retry briefly.
    for (let i = 0; ; i++) {
      try {
        await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
        break;
      } catch (err) {
        if (i > 50 || !/being accessed by other users/.test(String(err))) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  // No teardown here: workers and servers of the file may still use the pool in their own
  // after-hooks. Idle clients do not keep the process alive, and `npm test` drops every
  // test database when the run ends.
  const pool = createPool({ connectionString: url.toString(), max: 20, allowExitOnIdle: true });
  return { url: url.toString(), pool };
}
