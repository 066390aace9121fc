import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { createApp } from '@imgkit/api/app';
import { createPool, freePort, startEmbeddedPostgres } from '@imgkit/db';
import { createLogger } from '@imgkit/log';
import { migrateDatabase } from '@imgkit/runtime';
import { LocalBlobStore } from '@imgkit/storage';
import { jsonOf, newAccountWithKey, TEST_SECRET } from '../../../test/helpers/api.ts';

// A PostgreSQL of this file's own, so stopping it does not disturb the other test files.
const dataDir = await mkdtemp(path.join(tmpdir(), 'imgkit-unavailable-'));
const port = await freePort();
let server = await startEmbeddedPostgres({ dataDir, port });
after(() => server.stop());
await migrateDatabase(server.url);
const pool = createPool({ connectionString: server.url, max: 4, allowExitOnIdle: true });
const app = createApp({
  pool,
  storage: new LocalBlobStore(path.join(dataDir, 'blobs')),
  logger: createLogger({ name: 't', level: 'silent' }),
  secretKey: TEST_SECRET,
  limits: {
    jsonBodyBytes: 10_000,
    uploadBytes: 10_000,
    inlineInputBytes: 10_000,
    passthroughBytes: 1000,
    rateLimitPerMinute: 100,
    maxOutputSide: 4096,
  },
  images: { maxAttempts: 5, variantPresets: [] },
  originals: { delivery: 'proxy', redirectTtlSeconds: 300 },
  jobs: { maxAttempts: 5 },
  allowPrivateNetworks: true,
  webhooks: { secretRotationMs: 3600_000, deliveryMaxAttempts: 8 },
  isShuttingDown: () => false,
  authCacheMs: 0,
});
const http = app.listen(0, '127.0.0.1');
await new Promise((r) => http.once('listening', r));
after(() => new Promise<void>((r) => http.close(() => r())));
const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

test('while PostgreSQL is down the api answers 503 problem+json with Retry-After, and recovers after', async () => {
  const { auth } = await newAccountWithKey(pool);
  assert.equal((await fetch(`${base}/v1/images`, { headers: auth })).status, 200);

  await server.stop();
  for (const [url, init] of [
    [`${base}/v1/images`, { headers: auth }],
    [
      `${base}/v1/images`,
      {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/json' },
        body: '{"url":"http://example.com/a.jpg"}',
      },
    ],
    [`${base}/readyz`, {}],
  ] as [string, RequestInit][]) {
    const res = await fetch(url, init);
    assert.equal(res.status, 503, url);
    assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    assert.equal(res.headers.get('retry-after'), '5');
    const problem = await jsonOf(res);
    assert.equal(problem.status, 503);
    assert.match(problem.code, /unavailable/);
  }

  server = await startEmbeddedPostgres({ dataDir, port });
  const deadline = Date.now() + 30_000;
  let status = 0;
  while (Date.now() < deadline && status !== 200) {
    status = (await fetch(`${base}/v1/images`, { headers: auth })).status;
    if (status !== 200) {
      assert.equal(status, 503, 'only 503 while it comes back');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  assert.equal(status, 200);
  assert.equal((await fetch(`${base}/readyz`)).status, 200);
});
