import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { jsonOf, newAccountWithKey, TEST_SECRET } from '../../../test/helpers/api.ts';
import { freshDatabase } from '../../../test/helpers/db.ts';
import { startServer } from '../../../test/helpers/http.ts';
import { startPipeline } from '../../../test/helpers/pipeline.ts';
import { startReceiver } from '../../../test/helpers/receiver.ts';
import { startHousekeeping } from '../src/housekeeping.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../../..');
const png = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==',
  'base64',
);
const db = await freshDatabase();
const p = await startPipeline(db.pool, db.url, {
  WEBHOOK_RETRY_SCHEDULE: '0,1,1,1,1,1,1,1',
  MAX_DOWNLOAD_BYTES: String(1024 * 1024),
  PROCESS_IMAGE_MAX_ATTEMPTS: '1',
});
const { auth, account } = await newAccountWithKey(db.pool);

async function until(check: () => Promise<boolean> | boolean, what: string, limitMs = 30_000) {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const api = (pathname: string, init: RequestInit = {}) =>
  fetch(`${p.api.base}${pathname}`, { ...init, headers: { ...auth, ...(init.headers ?? {}) } });
const upload = (query = '', body: Buffer = png) =>
  api(`/v1/images?${query}`, { method: 'POST', headers: { 'Content-Type': 'image/png' }, body }).then(jsonOf);
const image = async (id: string) => jsonOf(await api(`/v1/images/${id}`));
const messagesOf = async (query: string) => (await jsonOf(await api(`/v1/webhook-messages?${query}`))).data;

test('a deleted endpoint receives nothing more, and its messages cannot be replayed', async () => {
  const receiver = await startReceiver(() => 500);
  const created = await jsonOf(
    await api('/v1/webhook-endpoints', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ url: receiver.url, events: ['image.completed'] }),
    }),
  );
  const img = await upload();
  await until(() => receiver.received.length >= 1, 'first attempt');
  assert.equal((await api(`/v1/webhook-endpoints/${created.id}`, { method: 'DELETE' })).status, 204);
  // An attempt in flight at the delete may finish first; it cannot bring the message back.
  await until(async () => (await messagesOf(`image_id=${img.id}`))[0]?.status === 'failed', 'failed');
  const [message] = await messagesOf(`image_id=${img.id}`);
  assert.equal(message.status, 'failed');
  assert.match(message.last_error, /endpoint_deleted/);
  const seen = receiver.received.length;
  await new Promise((r) => setTimeout(r, 2500)); // the retry schedule would have sent 2 more by now
  assert.equal(receiver.received.length, seen, 'nothing sent after the delete');
  const replay = await api(`/v1/webhook-messages/${message.id}/retry`, { method: 'POST' });
  assert.equal(replay.status, 409);
  assert.equal((await jsonOf(replay)).code, 'endpoint_deleted');
});

test('deliveries say POST in their errors, carry their own User-Agent, and count every attempt after a replay', async () => {
  const dead = await startServer((req) => req.socket.destroy());
  const img = await upload(`webhook_url=${encodeURIComponent(`${dead.url}/hook`)}`);
  await until(async () => (await messagesOf(`image_id=${img.id}`))[0]?.attempt_log.length >= 1, 'an attempt');
  const [failing] = await messagesOf(`image_id=${img.id}`);
  assert.match(failing.attempt_log[0].error, /POST/);
  assert.doesNotMatch(failing.attempt_log[0].error, /\bGET\b/);

  let n = 0;
  const flaky = await startReceiver(() => (++n <= 2 ? 500 : 200));
  const img2 = await upload(`webhook_url=${encodeURIComponent(flaky.url)}`);
  await until(async () => (await messagesOf(`image_id=${img2.id}`))[0]?.status === 'delivered', 'delivered');
  assert.match(String(flaky.received[0].headers['user-agent']), /imgkit-webhooks/);
  const [m] = await messagesOf(`image_id=${img2.id}`);
  assert.equal((await api(`/v1/webhook-messages/${m.id}/retry`, { method: 'POST' })).status, 202);
  await until(async () => (await messagesOf(`image_id=${img2.id}`))[0]?.attempt_log.length === 4, 'replayed');
  await until(
    async () => (await messagesOf(`image_id=${img2.id}`))[0]?.status === 'delivered',
    'delivered again',
  );
  const [after] = await messagesOf(`image_id=${img2.id}`);
  assert.equal(after.attempts, after.attempt_log.length, 'attempts counts every logged attempt');
});

test('HTML recognised by its bytes is read only to the head cap, whatever its Content-Type', async () => {
  // 2 MiB of page behind application/octet-stream, over the 1 MiB download cap: the first KiB
  // says HTML, so only the head is read and the page is judged (no og:image), not refused as too large.
  const page = Buffer.concat([
    Buffer.from('<!doctype html><html><head><title>x</title>'),
    Buffer.alloc(2 * 1024 * 1024, 'a'),
  ]);
  const source = await startServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(page),
  );
  const created = await jsonOf(
    await api('/v1/images', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ url: `${source.url}/page` }),
    }),
  );
  await p.settle([created.id]);
  assert.equal((await image(created.id)).error.code, 'no_og_image');
});

test('imgkit tasks retry on a failed image runs it again (the image goes back to pending)', async () => {
  const img = await upload('', Buffer.from('certainly not an image'));
  await p.settle([img.id]);
  const failedOnce = await image(img.id);
  assert.equal(failedOnce.status, 'failed');
  const { rows } = await db.pool.query("SELECT id FROM tasks WHERE subject_id = $1 AND status = 'failed'", [
    img.id,
  ]);
  const env = { ...process.env, DATABASE_URL: db.url, SECRET_KEY: TEST_SECRET, URL_SIGNING_KEY: TEST_SECRET };
  const { stdout } = await run(
    process.execPath,
    [path.join(ROOT, 'apps/cli/bin/imgkit.js'), 'tasks', 'retry', rows[0].id, '--json'],
    { env },
  );
  assert.equal(JSON.parse(stdout).task.id, rows[0].id);
  await until(async () => {
    const t = await db.pool.query('SELECT status, attempts FROM tasks WHERE id = $1', [rows[0].id]);
    return t.rows[0].status === 'failed' && t.rows[0].attempts === 1;
  }, 'the task ran again');
  const again = await image(img.id);
  assert.equal(again.status, 'failed');
  assert.ok(new Date(again.updated_at) > new Date(failedOnce.updated_at), 'the image was processed again');
});

test('an image deleted while it is processed leaves no variant or original blobs behind', async () => {
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const source = await startServer(async (_req, res) => {
    await gate;
    res.writeHead(200, { 'content-type': 'image/png' }).end(png);
  });
  const created = await jsonOf(
    await api('/v1/images', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ url: `${source.url}/slow.png`, variants: ['thumbnail'] }),
    }),
  );
  await until(() => source.requests.length > 0, 'the worker is downloading');
  assert.equal((await api(`/v1/images/${created.id}`, { method: 'DELETE' })).status, 204);
  release();
  await until(async () => {
    const t = await db.pool.query('SELECT status FROM tasks WHERE subject_id = $1', [created.id]);
    return t.rows.every((r) => r.status !== 'running');
  }, 'the task finished');
  await new Promise((r) => setTimeout(r, 200));
  const files = await readdir(p.api.blobRoot, { recursive: true }).catch(() => [] as string[]);
  assert.deepEqual(
    files.filter((f) => String(f).includes(created.id)),
    [],
  );
});

test('housekeeping prunes finished rate windows, day-old idempotency keys and the old webhook log', async () => {
  await db.pool.query(
    "INSERT INTO rate_limit_windows (key_id, window_start, count) VALUES ('key_old', now() - interval '1 hour', 5)",
  );
  await db.pool.query(
    "INSERT INTO idempotency_keys (account_id, key, request_hash, created_at) VALUES ($1, 'old', 'h', now() - interval '2 days')",
    [account.id],
  );
  await db.pool.query(
    "UPDATE webhook_messages SET updated_at = now() - interval '90 days' WHERE status <> 'pending'",
  );
  const before = (
    await db.pool.query("SELECT count(*)::int AS n FROM webhook_messages WHERE status <> 'pending'")
  ).rows[0].n;
  assert.ok(before > 0);
  const logger = { info() {}, warn() {} } as unknown as Parameters<typeof startHousekeeping>[0]['logger'];
  const hk = startHousekeeping({ pool: db.pool, logger, webhookLogRetentionMs: 30 * 24 * 3600_000 });
  await hk.run();
  hk.stop();
  const count = async (q: string) => (await db.pool.query(q)).rows[0].n;
  assert.equal(await count("SELECT count(*)::int AS n FROM rate_limit_windows WHERE key_id = 'key_old'"), 0);
  assert.equal(await count("SELECT count(*)::int AS n FROM idempotency_keys WHERE key = 'old'"), 0);
  assert.equal(await count("SELECT count(*)::int AS n FROM webhook_messages WHERE status <> 'pending'"), 0);
});
