import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { request } from 'node:http';
import path from 'node:path';
import { test } from 'node:test';
import { signPath } from '@imgkit/urls';
import { jsonOf, newAccountWithKey, startApi, TEST_SECRET } from '../../../test/helpers/api.ts';
import { CORPUS } from '../../../test/helpers/corpus.ts';
import { freshDatabase } from '../../../test/helpers/db.ts';

const db = await freshDatabase();
const api = await startApi(db.pool);
const { auth, account } = await newAccountWithKey(db.pool);
const jpeg = await readFile(path.join(CORPUS, 'camera-exif/Canon_40D.jpg'));

test('JSON must be UTF-8 (415 otherwise), and a UTF-8 BOM does not lose the passthrough', async () => {
  const body = '{"url":"http://example.com/a.jpg","passthrough":{"post":42}}';
  const utf16 = await fetch(`${api.base}/v1/images`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json; charset=utf-16le' },
    body: Buffer.from(body, 'utf16le'),
  });
  assert.equal(utf16.status, 415);
  assert.equal((await jsonOf(utf16)).code, 'unsupported_media_type');
  const bom = await fetch(`${api.base}/v1/images`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body)]),
  });
  assert.equal(bom.status, 202);
  assert.deepEqual((await jsonOf(bom)).passthrough, { post: 42 });
});

test('signed URLs: a prototype key id is a 403, an unknown gravity a 400, an expiring URL is not immutable', async () => {
  const img = await jsonOf(
    await fetch(`${api.base}/v1/images`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'image/jpeg' },
      body: jpeg,
    }),
  );
  await db.pool.query("UPDATE images SET status = 'completed', content_type = 'image/jpeg' WHERE id = $1", [
    img.id,
  ]);
  const proto = await fetch(
    `${api.base}${signPath('x'.repeat(32), { keyId: 'constructor', width: 10 }, img.id, 'jpg')}`,
  );
  assert.equal(proto.status, 403);
  const badGravity = await fetch(`${api.base}/v1/images/${img.id}/urls`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ urls: [{ width: 10, height: 10, fit: 'cover', gravity: 'x' }] }),
  });
  assert.equal(badGravity.status, 400);
  const signedGravity = await fetch(
    `${api.base}${signPath(TEST_SECRET, { keyId: '1', width: 10, height: 10, fit: 'cover', gravity: 'zz' }, img.id, 'jpg')}`,
  );
  assert.equal(signedGravity.status, 400, 'a signed but unknown gravity is a client error, not a 500');
  const urls = await jsonOf(
    await fetch(`${api.base}/v1/images/${img.id}/urls`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ urls: [{ width: 32, expires_in: 600 }, { width: 32 }] }),
    }),
  );
  const expiring = await fetch(`${api.base}${urls.urls[0].url}`);
  assert.equal(expiring.status, 200);
  const cc = expiring.headers.get('cache-control') ?? '';
  assert.doesNotMatch(cc, /immutable/);
  const maxAge = Number(/max-age=(\d+)/.exec(cc)?.[1]);
  assert.ok(maxAge <= 600 && maxAge > 500, cc);
  const permanent = await fetch(`${api.base}${urls.urls[1].url}`);
  assert.match(permanent.headers.get('cache-control') ?? '', /immutable/);
  const variant = await fetch(`${api.base}/v1/images/${img.id}/variants/constructor`, { headers: auth });
  assert.equal(variant.status, 404);
});

test('an upload the client abandons mid-stream ends at once and leaves no temp file', async () => {
  for (const contentType of ['image/jpeg', 'multipart/form-data; boundary=XyZ']) {
    const { port } = new URL(api.base);
    await new Promise<void>((resolve) => {
      const req = request({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/v1/images',
        headers: { ...auth, 'Content-Type': contentType, 'Content-Length': String(1024 * 1024) },
      });
      req.on('error', () => resolve());
      const head = contentType.startsWith('multipart')
        ? '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        : '';
      req.write(Buffer.concat([Buffer.from(head), jpeg]));
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 200);
    });
    const tmp = path.join(api.blobRoot, '.tmp');
    const deadline = Date.now() + 10_000;
    let left: string[] = ['?'];
    while (Date.now() < deadline && left.length > 0) {
      left = await readdir(tmp).catch(() => []);
      if (left.length) await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(left, [], `${contentType}: the temp file is gone`);
  }
  assert.equal((await fetch(`${api.base}/healthz`)).status, 200);
});

test('an Idempotency-Key whose request died mid-flight is taken over after 5 minutes, not 409 for a day', async () => {
  await db.pool.query(
    "INSERT INTO idempotency_keys (account_id, key, request_hash, created_at) VALUES ($1, 'crashed', 'x', now() - interval '10 minutes')",
    [account.id],
  );
  const res = await fetch(`${api.base}/v1/images`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json', 'Idempotency-Key': 'crashed' },
    body: JSON.stringify({ url: 'http://example.com/b.jpg' }),
  });
  assert.equal(res.status, 202);
  await db.pool.query(
    "INSERT INTO idempotency_keys (account_id, key, request_hash) VALUES ($1, 'running', 'x')",
    [account.id],
  );
  const busy = await fetch(`${api.base}/v1/images`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json', 'Idempotency-Key': 'running' },
    body: JSON.stringify({ url: 'http://example.com/b.jpg' }),
  });
  assert.equal(busy.status, 422, 'a fresh claim with another body is still protected');
});

test('the nginx site caches by the raw URI (and the Accept class), only successes, and does not expose /metrics', async () => {
  const site = await readFile(path.resolve(import.meta.dirname, '../../../deploy/nginx/imgkit.conf'), 'utf8');
  assert.match(site, /proxy_cache_key \$request_uri\|\$imgkit_accept_class;/);
  assert.match(
    site,
    /proxy_set_header Accept \$imgkit_accept;/,
    'the api renders for the class the key names',
  );
  assert.doesNotMatch(site, /proxy_cache_key \$uri;/);
  assert.doesNotMatch(site, /proxy_cache_valid[^;]*\b(403|404)\b/);
  assert.match(site, /location = \/metrics \{\s*return 404;/);
});
