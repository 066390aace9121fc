/**
 * The whole path with STORAGE=s3 against a real S3 server (Swift s3api): upload and URL
 * ingest → worker → variants → signed URL → original (proxied and redirected) → delete.
 * The api and the worker each have their own store built by the factory from config, with
 * their own cache of originals, as on two machines that share only PostgreSQL and the bucket.
 * Then the S3 server is stopped mid-run: the api answers 503, tasks wait without using up
 * attempts, and everything completes, once, when it is back.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { loadConfig } from '@imgkit/config';
import { createBlobStore } from '@imgkit/runtime';
import type { CachedBlobStore } from '@imgkit/storage';
import { S3BlobStore } from '@imgkit/storage/s3';
import sharp from 'sharp';
import { jsonOf, newAccountWithKey, startApi, TEST_SECRET } from '../helpers/api.ts';
import { freshDatabase } from '../helpers/db.ts';
import { startServer } from '../helpers/http.ts';
import { startPipeline } from '../helpers/pipeline.ts';
import { freshBucket, s3Env, s3ServerForTests } from '../helpers/s3.ts';

const s3 = await s3ServerForTests();

describe('STORAGE=s3 end to end', { skip: s3.skip }, async () => {
  const server = s3.server!;
  const settings = await freshBucket(server, { maxAttempts: 2 });
  const env = {
    ...s3Env(settings),
    SECRET_KEY: TEST_SECRET,
    URL_SIGNING_KEY: TEST_SECRET,
    S3_MAX_ATTEMPTS: '2',
    S3_REQUEST_TIMEOUT_MS: '5000',
    PROCESS_IMAGE_MAX_ATTEMPTS: '2',
    PROCESS_IMAGE_BACKOFF_MS: '50',
    WORKER_OUTAGE_RETRY_MS: '500',
  };
  /** A machine: its own DATA_DIR (so its own cache of originals) and its own S3 client. */
  const machine = async () =>
    (await createBlobStore(
      loadConfig({ ...env, DATA_DIR: await mkdtemp(path.join(tmpdir(), 'imgkit-machine-')) }),
    )) as CachedBlobStore;
  const apiStore = await machine();
  const workerStore = await machine();
  const db = await freshDatabase();
  const p = await startPipeline(
    db.pool,
    db.url,
    { ...env, DATABASE_URL: db.url },
    { storage: apiStore, uploadBytes: 32 * 1024 * 1024 },
    { workerStorage: workerStore },
  );
  const { auth, account } = await newAccountWithKey(db.pool);
  // Large enough for every variant (variants never enlarge).
  const photo = await sharp({
    create: {
      width: 1200,
      height: 800,
      channels: 3,
      background: '#808080',
      noise: { type: 'gaussian', mean: 128, sigma: 40 },
    },
  })
    .jpeg({ quality: 80 })
    .toBuffer();
  const bucket = new S3Client({
    region: settings.region,
    endpoint: settings.endpoint,
    forcePathStyle: true,
    credentials: settings.credentials,
  });
  const keysIn = async (prefix: string) => {
    const out = await bucket.send(new ListObjectsV2Command({ Bucket: settings.bucket, Prefix: prefix }));
    return (out.Contents ?? []).map((o) => o.Key!).sort();
  };
  const source = await startServer((req, res) => {
    if (req.url?.startsWith('/photo')) return res.writeHead(200, { 'content-type': 'image/jpeg' }).end(photo);
    res.writeHead(404).end();
  });
  const upload = async () => {
    const form = new FormData();
    form.set('variants', 'thumbnail,medium,large');
    form.set('file', new Blob([photo], { type: 'image/jpeg' }), 'canon.jpg');
    return fetch(`${p.api.base}/v1/images`, { method: 'POST', headers: auth, body: form });
  };
  const byUrl = async (n: number) => {
    const res = await fetch(`${p.api.base}/v1/images`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        url: `${source.url}/photo-${n}.jpg`,
        variants: ['thumbnail', 'medium', 'large'],
      }),
    });
    assert.equal(res.status, 202);
    return (await jsonOf(res)).id as string;
  };
  const image = async (id: string) => jsonOf(await fetch(`${p.api.base}/v1/images/${id}`, { headers: auth }));

  test('upload → worker → variants in the bucket → signed URL → original → delete', async () => {
    const res = await upload();
    assert.equal(res.status, 202);
    const { id } = await jsonOf(res);
    await p.settle([id]);
    const done = await image(id);
    assert.equal(done.status, 'completed', JSON.stringify(done.error));
    assert.deepEqual([done.width, done.height], [1200, 800]);
    assert.deepEqual(Object.keys(done.variants).sort(), ['large', 'medium', 'thumbnail']);
    // The layout of docs/storage.md, in the bucket.
    assert.deepEqual(await keysIn(`originals/${account.id}/`), [`originals/${account.id}/${id}`]);
    assert.deepEqual(await keysIn(`variants/${account.id}/${id}/`), [
      `variants/${account.id}/${id}/large`,
      `variants/${account.id}/${id}/medium`,
      `variants/${account.id}/${id}/thumbnail`,
    ]);
    // The worker read the upload from S3 once and kept it; the api has not read it yet.
    assert.equal(workerStore.remoteReads, 1);
    const original = await fetch(`${p.api.base}/v1/images/${id}/original`, { headers: auth });
    assert.equal(original.status, 200);
    assert.deepEqual(Buffer.from(await original.arrayBuffer()), photo);
    const variant = await fetch(`${p.api.base}/v1/images/${id}/variants/thumbnail`, { headers: auth });
    assert.equal(variant.status, 200);
    assert.equal((await sharp(Buffer.from(await variant.arrayBuffer())).metadata()).width, 100);

    // Signed URLs render from the original, downloaded from S3 once for any number of sizes.
    const before = apiStore.remoteReads;
    const urls = await jsonOf(
      await fetch(`${p.api.base}/v1/images/${id}/urls`, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/json' },
        body: JSON.stringify({
          urls: [
            { width: 40, format: 'webp' },
            { width: 60, format: 'png' },
            { width: 80, format: 'jpeg' },
          ],
        }),
      }),
    );
    for (const u of urls.urls) {
      const r = await fetch(`${p.api.base}${u.url}`);
      assert.equal(r.status, 200, u.url);
      const meta = await sharp(Buffer.from(await r.arrayBuffer())).metadata();
      assert.equal(meta.width, Number(/w:(\d+)/.exec(u.url)![1]));
    }
    assert.equal(apiStore.remoteReads - before, 1, 'three renditions, one download of the original');

    const del = await fetch(`${p.api.base}/v1/images/${id}`, { method: 'DELETE', headers: auth });
    assert.equal(del.status, 204);
    const deadline = Date.now() + 10_000;
    while (
      (await keysIn(`originals/${account.id}/${id}`)).length ||
      (await keysIn(`variants/${account.id}/${id}/`)).length
    ) {
      assert.ok(Date.now() < deadline, 'the image’s blobs are removed from the bucket');
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  test('URL ingest stores the download in the bucket; ORIGINALS_DELIVERY=redirect answers a presigned URL', async () => {
    const id = await byUrl(0);
    await p.settle([id]);
    assert.equal((await image(id)).status, 'completed');
    const redirecting = await startApi(db.pool, {
      storage: new S3BlobStore(settings),
      originals: { delivery: 'redirect', redirectTtlSeconds: 60 },
    });
    const res = await fetch(`${redirecting.base}/v1/images/${id}/original`, {
      headers: auth,
      redirect: 'manual',
    });
    assert.equal(res.status, 302);
    const location = res.headers.get('location')!;
    assert.ok(location.startsWith(`${settings.endpoint}/${settings.bucket}/originals/`), location);
    assert.match(location, /X-Amz-Signature=/);
    assert.match(location, /X-Amz-Expires=60/);
    const followed = await fetch(location);
    assert.equal(followed.status, 200);
    assert.equal(followed.headers.get('content-type'), 'image/jpeg');
    assert.deepEqual(Buffer.from(await followed.arrayBuffer()), photo);
  });

  test('S3 stopped mid-run: 503 at the door, tasks wait without using attempts, all complete once it is back', async () => {
    const ids = await Promise.all(Array.from({ length: 6 }, (_, i) => byUrl(100 + i)));
    await server.stopProxy();
    try {
      const refused = await upload();
      assert.equal(refused.status, 503);
      assert.equal((await jsonOf(refused)).code, 'storage_unavailable');
      const ready = await fetch(`${p.api.base}/readyz`);
      assert.equal(ready.status, 503);
      assert.equal((await jsonOf(ready)).code, 'storage_unavailable');
      const more = await Promise.all(Array.from({ length: 4 }, (_, i) => byUrl(200 + i)));
      ids.push(...more);
      // Long enough for several outage retries: more than PROCESS_IMAGE_MAX_ATTEMPTS (2) if they counted.
      const waitUntil = Date.now() + 4000;
      let waiting = 0;
      while (Date.now() < waitUntil) {
        const r = await db.pool.query(
          `SELECT count(*)::int AS n FROM tasks WHERE kind = 'process_image' AND status = 'pending'
             AND last_error->>'code' = 'storage_unavailable'`,
        );
        waiting = r.rows[0].n;
        await new Promise((res) => setTimeout(res, 200));
      }
      assert.ok(waiting > 0, 'tasks are waiting for the store');
      const failed = await db.pool.query(
        "SELECT count(*)::int AS n FROM images WHERE id = ANY($1) AND status = 'failed'",
        [ids],
      );
      assert.equal(failed.rows[0].n, 0, 'an outage fails no image');
    } finally {
      await server.startProxy();
    }
    await p.settle(ids, 60_000);
    const r = await db.pool.query(
      `SELECT i.status, count(*)::int AS n, max(t.attempts)::int AS attempts
         FROM images i JOIN tasks t ON t.payload->>'image_id' = i.id AND t.kind = 'process_image'
        WHERE i.id = ANY($1) GROUP BY i.status`,
      [ids],
    );
    assert.deepEqual(
      r.rows.map((x) => [x.status, x.n]),
      [['completed', 10]],
    );
    assert.ok(
      r.rows[0].attempts <= 2,
      `attempts stayed within PROCESS_IMAGE_MAX_ATTEMPTS: ${r.rows[0].attempts}`,
    );
    for (const id of ids) {
      assert.deepEqual(await keysIn(`originals/${account.id}/${id}`), [`originals/${account.id}/${id}`]);
      assert.equal((await keysIn(`variants/${account.id}/${id}/`)).length, 3);
    }
    bucket.destroy();
  });
});
