import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonOf, newAccountWithKey } from '../helpers/api.ts';
import { freshDatabase } from '../helpers/db.ts';
import { startPipeline } from '../helpers/pipeline.ts';

const png = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==',
  'base64',
);

test('through the api: 2,000 images of account A queued, account B’s one image is processed long before A’s backlog drains', async (t) => {
  const db = await freshDatabase();
  const p = await startPipeline(db.pool, db.url, { WORKER_CONCURRENCY: '2' });
  const a = await newAccountWithKey(db.pool, 'busy');
  const b = await newAccountWithKey(db.pool, 'quiet');
  const post = (auth: Record<string, string>) =>
    fetch(`${p.api.base}/v1/images`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'image/png' },
      body: png,
    }).then(jsonOf);
  for (let i = 0; i < 2000; i += 50) await Promise.all(Array.from({ length: 50 }, () => post(a.auth)));
  const mine = await post(b.auth);
  await p.settle([mine.id]);
  // Counted, not timed: how many of A's images had started when B's was done.
  const { rows } = await db.pool.query(
    "SELECT count(*)::int AS n FROM images WHERE account_id = $1 AND status <> 'pending'",
    [a.account.id],
  );
  t.diagnostic(`${rows[0].n} of A's 2,000 images had started when B's completed`);
  assert.ok(rows[0].n < 2000, 'B did not wait for the whole backlog');
  const behind = await db.pool.query(
    "SELECT count(*)::int AS n FROM images WHERE account_id = $1 AND status = 'pending'",
    [a.account.id],
  );
  assert.ok(behind.rows[0].n > 0, 'A still had a backlog when B was done');
});
