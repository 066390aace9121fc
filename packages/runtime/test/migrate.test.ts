import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { migrate } from '@imgkit/db';
import { QUEUE_MIGRATIONS } from '@imgkit/queue';
import { APP_MIGRATIONS, migrateDatabase } from '@imgkit/runtime';
import pg from 'pg';
import { freshDatabase } from '../../../test/helpers/db.ts';

/** An empty database on the test server (no template), dropped by `npm test` at the end. */
async function emptyDatabase(): Promise<string> {
  const admin = new pg.Client({ connectionString: process.env.IMGKIT_TEST_ADMIN_URL });
  await admin.connect();
  const name = `imgkit_t_${randomBytes(6).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(process.env.IMGKIT_TEST_ADMIN_URL!);
  url.pathname = `/${name}`;
  return url.toString();
}

async function tables(url: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const { rows } = await c.query(
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
  );
  await c.end();
  return rows.map((r) => r.tablename);
}

test('4 migrators at once on an empty database: all succeed, each migration applied once', async () => {
  const url = await emptyDatabase();
  const results = await Promise.all([1, 2, 3, 4].map(() => migrateDatabase(url)));
  const applied = results.flat();
  assert.equal(new Set(applied).size, applied.length, `no migration applied twice: ${applied}`);
  assert.ok(applied.includes('0001_tasks') && applied.includes('001_foundation'), applied.join(','));
  assert.ok((await tables(url)).includes('tasks'));
  assert.ok((await tables(url)).includes('images'));
});

test('4 migrators at once on a migrated database: all succeed with nothing to do', async () => {
  const db = await freshDatabase();
  const results = await Promise.all([1, 2, 3, 4].map(() => migrateDatabase(db.url)));
  assert.deepEqual(results, [[], [], [], []]);
});

test('a database made before the queue owned its migrations is adopted', async () => {
  // As wave 1 left a database: the tasks table and its functions exist (made by the
  // application's migrations then), and no queue migration is recorded.
  const url = await emptyDatabase();
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  for (const file of ['0001_tasks.sql', '0002_claim_function.sql', '0003_enqueue_function.sql']) {
    const text = await readFile(path.join(QUEUE_MIGRATIONS.dir, file), 'utf8');
    await c.query(text.slice(0, text.indexOf('-- Down Migration')));
  }
  await c.end();
  await migrate(url, [APP_MIGRATIONS]);
  assert.deepEqual(await migrateDatabase(url), [
    '0001_tasks',
    '0002_claim_function',
    '0003_enqueue_function',
    '0004_fair_claiming',
    '0005_claim_join_plan',
    '0006_account_tasks_index',
    '0007_fair_rank_apart',
    '0008_fair_rank_blocks',
    '0009_finished_brin',
    '0010_task_id_domain',
    '0011_pick_tasks',
    '0012_plans_kept_before_pg18',
    '0013_subject_index_pending_only',
  ]);
  assert.deepEqual(await migrateDatabase(url), []);
});
