import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { createApp } from '@imgkit/api/app';
import { revokeApiKey } from '@imgkit/auth';
import { createPool } from '@imgkit/db';
import { createLogger } from '@imgkit/log';
import { LocalBlobStore } from '@imgkit/storage';
import { jsonOf, newAccountWithKey, startApi, TEST_SECRET } from '../../../test/helpers/api.ts';
import { freshDatabase } from '../../../test/helpers/db.ts';

const db = await freshDatabase();
const api = await startApi(db.pool);

async function problemOf(res: Response) {
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
  const body = await jsonOf(res);
  assert.equal(body.status, res.status);
  assert.ok(body.type && body.code && body.title, 'type, code and title');
  assert.ok(!JSON.stringify(body).includes('    at '), 'no stack trace');
  return body;
}

test('healthz and readyz answer 200 with the database up', async () => {
  assert.equal((await fetch(`${api.base}/healthz`)).status, 200);
  const ready = await fetch(`${api.base}/readyz`);
  assert.equal(ready.status, 200);
  assert.equal((await jsonOf(ready)).database, 'ok');
});

test('readyz answers 503 when the database is unreachable', async () => {
  const pool = createPool({ connectionString: 'postgres://nobody@127.0.0.1:1/none' });
  const app = createApp({
    pool,
    storage: new LocalBlobStore('/tmp/unused'),
    logger: createLogger({ name: 't', level: 'silent' }),
    secretKey: TEST_SECRET,
    limits: {
      jsonBodyBytes: 1000,
      uploadBytes: 1000,
      inlineInputBytes: 1000,
      passthroughBytes: 1000,
      rateLimitPerMinute: 0,
      maxOutputSide: 4096,
    },
    images: { maxAttempts: 5, variantPresets: [] },
    originals: { delivery: 'proxy', redirectTtlSeconds: 300 },
    jobs: { maxAttempts: 5 },
    allowPrivateNetworks: false,
    webhooks: { secretRotationMs: 3600_000, deliveryMaxAttempts: 8 },
    isShuttingDown: () => false,
    authCacheMs: 0,
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  assert.equal(res.status, 503);
  server.close();
  await pool.end();
});

test('unknown routes answer a problem+json 404, with or without /v1', async () => {
  const { auth } = await newAccountWithKey(db.pool);
  const a = await fetch(`${api.base}/nope`);
  assert.equal(a.status, 404);
  assert.equal((await problemOf(a)).code, 'not_found');
  const b = await fetch(`${api.base}/v1/nope`, { headers: auth });
  assert.equal(b.status, 404);
  await problemOf(b);
});

test('missing, malformed, unknown and revoked keys answer 401 with WWW-Authenticate', async () => {
  const { auth, keyId, key } = await newAccountWithKey(db.pool);
  const revokedAccount = await newAccountWithKey(db.pool);
  await revokeApiKey(db.pool, revokedAccount.keyId);
  const cases: [string, Record<string, string>][] = [
    ['missing', {}],
    ['not bearer', { Authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }],
    ['malformed', { Authorization: 'Bearer ik_live_nope' }],
    ['unknown', { Authorization: `Bearer ${key.slice(0, -7)}${'0'.repeat(7)}` }],
    ['revoked', revokedAccount.auth],
  ];
  for (const [name, headers] of cases) {
    const res = await fetch(`${api.base}/v1/images`, { headers });
    assert.equal(res.status, 401, name);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/, name);
    await problemOf(res);
  }
  assert.equal((await fetch(`${api.base}/v1/images`, { headers: auth })).status, 200, `valid key ${keyId}`);
});

test('X-Request-Id is honoured and returned, or generated', async () => {
  const a = await fetch(`${api.base}/healthz`, { headers: { 'X-Request-Id': 'abc-123' } });
  assert.equal(a.headers.get('x-request-id'), 'abc-123');
  const b = await fetch(`${api.base}/healthz`);
  assert.match(b.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
});

test('malformed JSON and oversized JSON are problems, not 500s', async () => {
  const { auth } = await newAccountWithKey(db.pool);
  const bad = await fetch(`${api.base}/v1/images`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: '{"url":',
  });
  assert.equal(bad.status, 400);
  assert.equal((await problemOf(bad)).code, 'malformed_json');
  const big = await fetch(`${api.base}/v1/images`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ url: 'https://example.com/a.jpg', passthrough: 'x'.repeat(300 * 1024) }),
  });
  assert.equal(big.status, 413);
  await problemOf(big);
});

test('malformed and wrong-prefix ids answer 404 problem+json', async () => {
  const { auth } = await newAccountWithKey(db.pool);
  for (const id of [
    'nope',
    'acc_3MRvlZzV7CPKcXEOQQNT0sPNOjO',
    'img_',
    'img_zzzzzzzzzzzzzzzzzzzzzzzzzzz',
    '%00',
  ]) {
    const res = await fetch(`${api.base}/v1/images/${id}`, { headers: auth });
    assert.equal(res.status, 404, id);
    await problemOf(res);
  }
});

function runProcess(entry: string, env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [entry], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    out += d;
  });
  return { child, output: () => out };
}

test('a bad config value stops the api with one line naming the variable', async () => {
  const { child, output } = runProcess('apps/api/src/main.ts', { PORT: 'abc', DATABASE_URL: db.url });
  const [code] = await once(child, 'exit');
  assert.equal(code, 78);
  const lines = output().trim().split('\n');
  assert.equal(lines.length, 1);
  assert.match(lines[0], /PORT/);
});

for (const app of ['api', 'worker']) {
  test(`${app} process shuts down on SIGTERM with exit code 0`, async () => {
    const { child, output } = runProcess(`apps/${app}/src/main.ts`, {
      DATABASE_URL: db.url,
      PORT: '0',
      SECRET_KEY: TEST_SECRET,
      URL_SIGNING_KEY: TEST_SECRET,
      LOG_LEVEL: 'info',
      DATA_DIR: api.blobRoot,
    });
    const started = app === 'api' ? /api listening/ : /worker started/;
    for (let i = 0; i < 200 && !started.test(output()); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(output(), started);
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0, output());
    assert.match(output(), /stopped/);
  });
}

test('/metrics: HTTP latency by route template and queue depth, in Prometheus text', async () => {
  const { auth } = await newAccountWithKey(db.pool);
  await fetch(`${api.base}/v1/images/img_3MRvmsIg0DHgU78lo3y9bXv5Tl4`, { headers: auth });
  const text = await (await fetch(`${api.base}/metrics`)).text();
  assert.match(text, /# TYPE imgkit_http_request_duration_seconds histogram/);
  assert.match(text, /route="\/v1\/images\/:id"/);
  assert.ok(!text.includes('img_3MRvmsIg0DHgU78lo3y9bXv5Tl4'), 'ids never become labels');
  assert.match(text, /# TYPE imgkit_tasks gauge/);
});
