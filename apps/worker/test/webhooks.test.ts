import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { newId } from '@imgkit/ids';
import { Webhook } from 'standardwebhooks';
import { jsonOf, newAccountWithKey, startApi, TEST_SECRET } from '../../../test/helpers/api.ts';
import { freshDatabase } from '../../../test/helpers/db.ts';
import { startServer } from '../../../test/helpers/http.ts';
import { startPipeline } from '../../../test/helpers/pipeline.ts';
import { startReceiver } from '../../../test/helpers/receiver.ts';

const FAST = { WEBHOOK_RETRY_SCHEDULE: '0,0,0,0,0,0,0,0' };
const png = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==',
  'base64',
);

async function until(check: () => Promise<boolean> | boolean, what: string, limitMs = 30_000) {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function upload(base: string, auth: Record<string, string>, query: string) {
  return fetch(`${base}/v1/images?${query}`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'image/png' },
    body: png,
  }).then(jsonOf);
}

async function createEndpoint(base: string, auth: Record<string, string>, body: object) {
  const res = await fetch(`${base}/v1/webhook-endpoints`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await jsonOf(res) };
}

test('image.completed reaches the image webhook_url and every matching endpoint; every delivery verifies', async () => {
  const db = await freshDatabase();
  const p = await startPipeline(db.pool, db.url, FAST);
  const { auth, account } = await newAccountWithKey(db.pool);
  const hook = await startReceiver();
  const endpointReceiver = await startReceiver();
  const ignored = await startReceiver();
  const endpoint = await createEndpoint(p.api.base, auth, {
    url: `${endpointReceiver.url}/hooks`,
    events: ['image.completed'],
  });
  assert.equal(endpoint.status, 201);
  assert.match(endpoint.body.secret, /^whsec_/);
  const listed = await jsonOf(await fetch(`${p.api.base}/v1/webhook-endpoints`, { headers: auth }));
  assert.equal(listed.data[0].secret, undefined, 'the secret is shown once');
  await createEndpoint(p.api.base, auth, { url: ignored.url, events: ['job.completed'] });

  const passthrough = '{"z":[1,2,{"ü":"😀"}],  "a":null}';
  const image = await upload(
    p.api.base,
    auth,
    `webhook_url=${encodeURIComponent(`${hook.url}/cb`)}&passthrough=${encodeURIComponent(passthrough)}`,
  );
  await until(() => hook.received.length === 1 && endpointReceiver.received.length === 1, 'both deliveries');
  for (const [received, secret] of [
    [hook.received[0], account.webhook_secret],
    [endpointReceiver.received[0], endpoint.body.secret],
  ] as const) {
    const payload = new Webhook(secret).verify(received.body, received.headers as Record<string, string>) as {
      type: string;
      data: { id: string; status: string };
    };
    assert.equal(payload.type, 'image.completed');
    assert.equal(payload.data.id, image.id);
    assert.equal(payload.data.status, 'completed');
    assert.ok(received.body.endsWith(`"passthrough":${passthrough}}}`), 'passthrough byte for byte');
    assert.match(String(received.headers['webhook-id']), /^msg_/);
  }
  assert.equal(ignored.received.length, 0, 'event filter respected');
  let log = { data: [] as { status: string; attempt_log: unknown[] }[] };
  await until(async () => {
    log = await jsonOf(
      await fetch(`${p.api.base}/v1/webhook-messages?image_id=${image.id}`, { headers: auth }),
    );
    return log.data.every((m) => m.status === 'delivered');
  }, 'marked delivered');
  assert.equal(log.data.length, 2);
  assert.ok(
    log.data.every(
      (m: { status: string; attempt_log: unknown[] }) =>
        m.status === 'delivered' && m.attempt_log.length === 1,
    ),
  );
});

test('500 three times then 200: delivered exactly once with four attempts logged; replay works', async () => {
  const db = await freshDatabase();
  const p = await startPipeline(db.pool, db.url, FAST);
  const { auth } = await newAccountWithKey(db.pool);
  const receiver = await startReceiver((n) => (n <= 3 ? 500 : 200));
  const image = await upload(p.api.base, auth, `webhook_url=${encodeURIComponent(receiver.url)}`);
  await until(async () => {
    const log = await jsonOf(
      await fetch(`${p.api.base}/v1/webhook-messages?image_id=${image.id}`, { headers: auth }),
    );
    return log.data[0]?.status === 'delivered';
  }, 'delivered');
  const [message] = (
    await jsonOf(await fetch(`${p.api.base}/v1/webhook-messages?image_id=${image.id}`, { headers: auth }))
  ).data;
  assert.equal(message.attempts, 4);
  assert.deepEqual(
    message.attempt_log.map((a: { status_code: number }) => a.status_code),
    [500, 500, 500, 200],
  );
  assert.equal(message.attempt_log[0].response_body, 'receiver says no');
  assert.equal(receiver.received.filter((_, i) => i >= 3).length, 1, 'one successful delivery');
  assert.ok(
    new Set(receiver.received.map((r) => r.headers['webhook-id'])).size === 1,
    'same message id on retries',
  );

  const replay = await fetch(`${p.api.base}/v1/webhook-messages/${message.id}/retry`, {
    method: 'POST',
    headers: auth,
  });
  assert.equal(replay.status, 202);
  await until(() => receiver.received.length === 5, 'replayed');
  const other = await newAccountWithKey(db.pool);
  const foreign = await fetch(`${p.api.base}/v1/webhook-messages/${message.id}/retry`, {
    method: 'POST',
    headers: other.auth,
  });
  assert.equal(foreign.status, 404);
});

test('410 disables the endpoint; a 302 is a failure and is not followed', async () => {
  const db = await freshDatabase();
  const p = await startPipeline(db.pool, db.url, { WEBHOOK_RETRY_SCHEDULE: '0,0' });
  const { auth } = await newAccountWithKey(db.pool);
  const gone = await startReceiver(() => 410);
  const target = await startReceiver();
  const redirecting = await startReceiver(() => [302, { location: `${target.url}/elsewhere` }]);
  const e410 = await createEndpoint(p.api.base, auth, { url: gone.url });
  const e302 = await createEndpoint(p.api.base, auth, { url: redirecting.url });
  const image = await upload(p.api.base, auth, '');
  await until(async () => {
    const log = await jsonOf(
      await fetch(`${p.api.base}/v1/webhook-messages?image_id=${image.id}`, { headers: auth }),
    );
    return log.data.length === 2 && log.data.every((m: { status: string }) => m.status === 'failed');
  }, 'both failed');
  const endpoint410 = await jsonOf(
    await fetch(`${p.api.base}/v1/webhook-endpoints/${e410.body.id}`, { headers: auth }),
  );
  assert.equal(endpoint410.enabled, false);
  assert.match(endpoint410.disabled_reason, /410/);
  assert.equal(gone.received.length, 1, '410 is not retried');
  assert.equal(redirecting.received.length, 2, '302 is retried per schedule');
  assert.equal(target.received.length, 0, 'the redirect is never followed');
  const messages = await jsonOf(
    await fetch(`${p.api.base}/v1/webhook-messages?endpoint_id=${e302.body.id}`, { headers: auth }),
  );
  assert.deepEqual(
    messages.data[0].attempt_log.map((a: { status_code: number }) => a.status_code),
    [302, 302],
  );
});

test('rotation: both secrets sign during the overlap, each verifies on its own', async () => {
  const db = await freshDatabase();
  const p = await startPipeline(db.pool, db.url, FAST);
  const { auth } = await newAccountWithKey(db.pool);
  const receiver = await startReceiver();
  const endpoint = await createEndpoint(p.api.base, auth, { url: receiver.url });
  const rotated = await jsonOf(
    await fetch(`${p.api.base}/v1/webhook-endpoints/${endpoint.body.id}/rotate-secret`, {
      method: 'POST',
      headers: auth,
    }),
  );
  assert.notEqual(rotated.secret, endpoint.body.secret);
  assert.ok(rotated.previous_secret_expires_at);
  const ping = await fetch(`${p.api.base}/v1/webhook-endpoints/${endpoint.body.id}/test`, {
    method: 'POST',
    headers: auth,
  });
  assert.equal(ping.status, 202);
  await until(() => receiver.received.length === 1, 'ping delivered');
  const r = receiver.received[0];
  assert.equal(String(r.headers['webhook-signature']).split(' ').length, 2);
  for (const secret of [endpoint.body.secret, rotated.secret]) {
    const payload = new Webhook(secret).verify(r.body, r.headers as Record<string, string>) as {
      type: string;
    };
    assert.equal(payload.type, 'ping');
  }
});

test('private webhook URLs are refused at creation, and at delivery if they resolve there later', async () => {
  const db = await freshDatabase();
  const p = await startPipeline(
    db.pool,
    db.url,
    { ...FAST, FETCH_ALLOW_PRIVATE_NETWORKS: 'false', WEBHOOK_RETRY_SCHEDULE: '0,0' },
    {
      allowPrivateNetworks: false,
    },
  );
  const { auth, account } = await newAccountWithKey(db.pool);
  const receiver = await startReceiver();
  for (const url of [
    'http://127.0.0.1:9/x',
    'http://169.254.169.254/latest',
    'http://[::1]/',
    'http://localhost/x',
  ]) {
    const res = await createEndpoint(p.api.base, auth, { url });
    assert.equal(res.status, 400, url);
    assert.equal(res.body.errors[0].field, 'url');
  }
  const viaImage = await fetch(
    `${p.api.base}/v1/images?webhook_url=${encodeURIComponent('http://10.0.0.1/cb')}`,
    {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'image/png' },
      body: png,
    },
  );
  assert.equal(viaImage.status, 400);
  // An endpoint whose name later resolves to loopback: simulated by writing the row directly.
  await db.pool.query(
    `INSERT INTO webhook_endpoints (id, account_id, url, secret) VALUES ($1, $2, $3, 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')`,
    [newId('webhookEndpoint'), account.id, receiver.url],
  );
  const image = await upload(p.api.base, auth, '');
  await until(async () => {
    const log = await jsonOf(
      await fetch(`${p.api.base}/v1/webhook-messages?image_id=${image.id}`, { headers: auth }),
    );
    return log.data[0]?.status === 'failed';
  }, 'refused at delivery');
  const [m] = (
    await jsonOf(await fetch(`${p.api.base}/v1/webhook-messages?image_id=${image.id}`, { headers: auth }))
  ).data;
  assert.match(m.last_error, /blocked_address/);
  assert.equal(receiver.received.length, 0);
});

test('a worker killed mid-delivery: the message is delivered by another worker', async () => {
  const db = await freshDatabase();
  const api = await startApi(db.pool);
  const { auth } = await newAccountWithKey(db.pool);
  let hang = true;
  const received: string[] = [];
  const receiver = await startServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      received.push(body);
      if (hang) return; // the first worker dies while waiting for this answer
      res.writeHead(200).end('ok');
    });
  });
  const child = spawn(process.execPath, ['apps/worker/src/main.ts'], {
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      DATA_DIR: api.blobRoot.replace(/\/?$/, '/..'),
      SECRET_KEY: TEST_SECRET,
      URL_SIGNING_KEY: TEST_SECRET,
      FETCH_ALLOW_PRIVATE_NETWORKS: 'true',
      WORKER_LEASE_MS: '1000',
      WORKER_POLL_INTERVAL_MS: '100',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
      ...FAST,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const endpoint = await createEndpoint(api.base, auth, { url: receiver.url });
  assert.equal(endpoint.status, 201);
  await fetch(`${api.base}/v1/webhook-endpoints/${endpoint.body.id}/test`, { method: 'POST', headers: auth });
  await until(() => received.length === 1, 'first worker is mid-delivery');
  child.kill('SIGKILL');
  await once(child, 'exit');
  hang = false;
  const p = await startPipeline(db.pool, db.url, FAST);
  void p;
  await until(async () => {
    const log = await jsonOf(
      await fetch(`${api.base}/v1/webhook-messages?endpoint_id=${endpoint.body.id}`, { headers: auth }),
    );
    return log.data[0]?.status === 'delivered';
  }, 'delivered after the crash');
  assert.equal(received.length, 2);
  assert.equal(received[0], received[1], 'the same message, not a new one');
});
