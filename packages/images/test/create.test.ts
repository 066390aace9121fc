// createImage under load: concurrent creates share statements (images.insert_many with their
// tasks), and each request still gets exactly its own row, task and error.
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { createAccount } from '@imgkit/auth';
import { createPool } from '@imgkit/db';
import { newId } from '@imgkit/ids';
import { type CreateImageDeps, createImage, type NewImage } from '@imgkit/images';
import { FairRanks, Notifier } from '@imgkit/queue';
import { LocalBlobStore } from '@imgkit/storage';
import { freshDatabase } from '../../../test/helpers/db.ts';

const db = await freshDatabase();
after(() => db.pool.end());

function image(accountId: string, i: number): NewImage {
  return {
    id: newId('image'),
    accountId,
    source: 'url',
    url: `https://example.com/photos/${i}.jpg`,
    filename: null,
    byteSize: null,
    checksum: null,
    storageKey: null,
    variants: i % 3 === 0 ? [] : i % 3 === 1 ? ['thumbnail'] : ['thumbnail', 'large'],
    extractMetadata: i % 2 === 0,
    webhookUrl: null,
    passthrough: i % 4 === 0 ? null : `{ "n" : ${i},"é":"\\u00e9" }`,
  };
}

test('concurrent creates are written together: every image has its own row and task, as sent', async () => {
  // A pool of 4: two statements in flight, so 200 creates at once must be batched.
  const pool = createPool({ connectionString: db.url, max: 4 });
  after(() => pool.end());
  let statements = 0;
  pool.on('acquire', () => statements++);
  const deps: CreateImageDeps = {
    pool,
    storage: new LocalBlobStore(await mkdtemp(path.join(tmpdir(), 'imgkit-create-'))),
    notifier: new Notifier(pool),
    ranks: new FairRanks(pool),
    maxAttempts: 5,
    allowPrivateNetworks: false,
  };
  const a = await createAccount(db.pool, 'a');
  const b = await createAccount(db.pool, 'b');
  const images = Array.from({ length: 200 }, (_, i) => image(i % 2 ? a.id : b.id, i));
  const results = await Promise.all(images.map((img) => createImage(deps, img)));
  assert.ok(statements < 150, `${statements} connections acquired for 200 creates`);
  for (const [i, r] of results.entries()) {
    const body = JSON.parse(String(r.response.body));
    assert.equal(body.id, images[i].id);
    assert.equal(body.url, images[i].url);
    assert.deepEqual(body.requested_variants, images[i].variants);
    // passthrough comes back byte for byte
    if (images[i].passthrough)
      assert.ok(String(r.response.body).includes(`"passthrough":${images[i].passthrough}`));
    else assert.equal(body.passthrough, null);
  }
  const { rows } = await db.pool.query(
    `SELECT i.id, i.account_id, i.extract_metadata, count(t.id)::int AS tasks, min(t.fair_key) AS fair_key,
            min(t.payload->>'image_id') AS payload_image
       FROM images i LEFT JOIN tasks t ON t.subject_id = i.id GROUP BY i.id`,
  );
  assert.equal(rows.length, 200);
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const img of images) {
    const r = byId.get(img.id)!;
    assert.equal(r.tasks, 1, 'exactly one task per image');
    assert.equal(r.fair_key, img.accountId);
    assert.equal(r.payload_image, img.id);
    assert.equal(r.extract_metadata, img.extractMetadata);
  }
  const ranks = await db.pool.query(
    'SELECT fair_key, count(DISTINCT fair_rank)::int AS n FROM tasks GROUP BY fair_key',
  );
  for (const r of ranks.rows) assert.equal(r.n, 100, 'an account’s tasks have distinct ranks');
});

test('in a shared statement, one image that cannot be written fails alone', async () => {
  const pool = createPool({ connectionString: db.url, max: 2 });
  after(() => pool.end());
  const deps: CreateImageDeps = {
    pool,
    storage: new LocalBlobStore(await mkdtemp(path.join(tmpdir(), 'imgkit-create-'))),
    notifier: new Notifier(pool),
    ranks: new FairRanks(pool),
    maxAttempts: 5,
    allowPrivateNetworks: false,
  };
  const a = await createAccount(db.pool, 'c');
  const images = Array.from({ length: 40 }, (_, i) => image(i === 17 ? 'acc_doesnotexist' : a.id, i));
  const settled = await Promise.allSettled(images.map((img) => createImage(deps, img)));
  assert.equal(settled.filter((s) => s.status === 'rejected').length, 1);
  assert.equal(settled[17].status, 'rejected');
  const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM images WHERE account_id = $1', [a.id]);
  assert.equal(rows[0].n, 39);
});
