import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { revokeApiKey } from '@imgkit/auth';
import { newId } from '@imgkit/ids';
import { jsonOf, newAccountWithKey, startApi } from '../../../test/helpers/api.ts';
import { CORPUS } from '../../../test/helpers/corpus.ts';
import { freshDatabase } from '../../../test/helpers/db.ts';

const db = await freshDatabase();
const UPLOAD_LIMIT = 64 * 1024;
const api = await startApi(db.pool, { uploadBytes: UPLOAD_LIMIT });
const jpeg = await readFile(path.join(CORPUS, 'camera-exif/Canon_40D.jpg'));

function postJson(auth: Record<string, string>, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${api.base}/v1/images`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function countRows(table: string, where = 'true', values: unknown[] = []) {
  const r = await db.pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE ${where}`, values);
  return r.rows[0].n as number;
}

async function blobFiles(): Promise<string[]> {
  const files = await readdir(api.blobRoot, { recursive: true, withFileTypes: true }).catch(() => []);
  return files.filter((f) => f.isFile()).map((f) => path.join(f.parentPath, f.name));
}

test('POST a URL: 202, Location, pending image, its task in the same transaction', async () => {
  const { auth } = await newAccountWithKey(db.pool);
  const res = await postJson(auth, {
    url: 'https://example.com/cat.jpg',
    variants: ['thumbnail'],
    exif: false,
  });
  assert.equal(res.status, 202);
  const image = await jsonOf(res);
  assert.match(image.id, /^img_/);
  assert.equal(res.headers.get('location'), `/v1/images/${image.id}`);
  assert.equal(image.status, 'pending');
  assert.equal(image.url, 'https://example.com/cat.jpg');
  assert.deepEqual(image.requested_variants, ['thumbnail']);
  for (const field of ['width', 'height', 'checksum', 'exif', 'phash', 'error', 'passthrough']) {
    assert.equal(image[field], null, `${field} is null until known`);
  }
  const tasks = await db.pool.query('SELECT kind, payload, status FROM tasks WHERE subject_id = $1', [
    image.id,
  ]);
  assert.deepEqual(tasks.rows, [
    { kind: 'process_image', payload: { image_id: image.id }, status: 'pending' },
  ]);
  const again = await jsonOf(await fetch(`${api.base}/v1/images/${image.id}`, { headers: auth }));
  assert.equal(again.id, image.id);
});

test('validation errors name their field', async () => {
  const { auth } = await newAccountWithKey(db.pool);
  const cases: [unknown, string][] = [
    [{}, 'url'],
    [{ url: 'ftp://example.com/a.jpg' }, 'url'],
    [{ url: 'file:///etc/passwd' }, 'url'],
    [{ url: `https://example.com/${'a'.repeat(2100)}` }, 'url'],
    [{ url: 'https://example.com/a.jpg', colour: 'red' }, 'colour'],
    [{ url: 'https://example.com/a.jpg', exif: 'yes' }, 'exif'],
    [{ url: 'https://example.com/a.jpg', variants: ['gigantic'] }, 'variants.0'],
    [{ url: 'https://example.com/a.jpg', webhook_url: 'not a url' }, 'webhook_url'],
    [{ url: 'https://example.com/a.jpg', passthrough: 'x'.repeat(17 * 1024) }, 'passthrough'],
    [[1, 2], '(body)'],
  ];
  for (const [body, field] of cases) {
    const res = await postJson(auth, body);
    assert.equal(res.status, 400, JSON.stringify(body).slice(0, 80));
    const problem = await jsonOf(res);
    assert.equal(problem.code, 'validation_failed');
    assert.ok(
      problem.errors.some((e: { field: string }) => e.field === field),
      `${field} in ${JSON.stringify(problem.errors)}`,
    );
  }
  const wrongType = await fetch(`${api.base}/v1/images`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'text/plain' },
    body: 'hello',
  });
  assert.equal(wrongType.status, 415);
});

test('passthrough round-trips byte for byte: key order, spacing, unicode, escapes', async () => {
  const { auth } = await newAccountWithKey(db.pool);
  const passthrough = '{"z":1,  "a":{"ü":"😀","esc":"\\u00e9\\n"},"n":1.50,"list":[3,2,1]}';
  const body = `{"url":"https://example.com/a.jpg","passthrough":${passthrough}}`;
  const created = await (await postJson(auth, body)).text();
  assert.ok(created.endsWith(`"passthrough":${passthrough}}`), created.slice(-120));
  const id = JSON.parse(created).id;
  const read = await (await fetch(`${api.base}/v1/images/${id}`, { headers: auth })).text();
  assert.ok(read.endsWith(`"passthrough":${passthrough}}`));
  const listed = await (await fetch(`${api.base}/v1/images?limit=1`, { headers: auth })).text();
  assert.ok(listed.includes(`"passthrough":${passthrough}}`));

  const form = new FormData();
  form.set('passthrough', passthrough);
  form.set('file', new Blob([jpeg], { type: 'image/jpeg' }), 'a.jpg');
  const upload = await (
    await fetch(`${api.base}/v1/images`, { method: 'POST', headers: auth, body: form })
  ).text();
  assert.ok(upload.endsWith(`"passthrough":${passthrough}}`));
});

test('multipart upload streams into the blob store with its SHA-256', async () => {
  const { auth } = await newAccountWithKey(db.pool);
  const form = new FormData();
  form.set('file', new Blob([jpeg], { type: 'image/jpeg' }), 'Canon 40D.jpg');
  form.set('variants', 'thumbnail,medium');
  const res = await fetch(`${api.base}/v1/images`, { method: 'POST', headers: auth, body: form });
  assert.equal(res.status, 202);
  const image = await jsonOf(res);
  assert.equal(image.source, 'upload');
  assert.equal(image.filename, 'Canon 40D.jpg');
  assert.equal(image.byte_size, jpeg.length);
  const { createHash } = await import('node:crypto');
  assert.equal(image.checksum, createHash('sha256').update(jpeg).digest('hex'));
  assert.deepEqual(image.requested_variants, ['thumbnail', 'medium']);

  const original = await fetch(`${api.base}/v1/images/${image.id}/original`, { headers: auth });
  assert.equal(original.status, 200);
  assert.equal(original.headers.get('content-length'), String(jpeg.length));
  assert.equal(original.headers.get('etag'), `"${image.checksum}"`);
  assert.deepEqual(Buffer.from(await original.arrayBuffer()), jpeg);
  const cached = await fetch(`${api.base}/v1/images/${image.id}/original`, {
    headers: { ...auth, 'If-None-Match': `"${image.checksum}"` },
  });
  assert.equal(cached.status, 304);
});

test('raw image/* body with options in the query string', async () => {
  const { auth } = await newAccountWithKey(db.pool);
  const res = await fetch(`${api.base}/v1/images?filename=x.jpg&exif=false&passthrough=%5B1%2C2%5D`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'image/jpeg' },
    body: jpeg,
  });
  assert.equal(res.status, 202);
  const text = await res.text();
  const image = JSON.parse(text);
  assert.equal(image.filename, 'x.jpg');
  assert.equal(image.byte_size, jpeg.length);
  assert.ok(text.endsWith('"passthrough":[1,2]}'));
});

test('uploads over MAX_UPLOAD_BYTES answer 413 and leave no blob and no row', async () => {
  const { auth, account } = await newAccountWithKey(db.pool);
  const big = Buffer.alloc(UPLOAD_LIMIT + 1, 7);
  const form = new FormData();
  form.set('file', new Blob([big], { type: 'image/jpeg' }), 'big.jpg');
  const multipart = await fetch(`${api.base}/v1/images`, { method: 'POST', headers: auth, body: form });
  assert.equal(multipart.status, 413);
  assert.equal((await jsonOf(multipart)).code, 'payload_too_large');

  // Chunked, so the server cannot rely on Content-Length and must count while streaming.
  const chunked = new ReadableStream({
    start(c) {
      for (let i = 0; i < 10; i++) c.enqueue(big.subarray(0, UPLOAD_LIMIT / 4));
      c.close();
    },
  });
  const raw = await fetch(`${api.base}/v1/images`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'image/jpeg' },
    body: chunked,
    duplex: 'half',
  } as RequestInit);
  assert.equal(raw.status, 413);
  const declared = await fetch(`${api.base}/v1/images`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'image/jpeg' },
    body: big,
  });
  assert.equal(declared.status, 413);
  assert.equal(await countRows('images', 'account_id = $1', [account.id]), 0);
  const leftovers = (await blobFiles()).filter((f) => f.includes(account.id) || f.includes('.tmp'));
  assert.deepEqual(leftovers, []);
});

test('every image route answers 401 without a valid key and 404 for foreign, malformed or wrong-prefix ids', async () => {
  const owner = await newAccountWithKey(db.pool);
  const other = await newAccountWithKey(db.pool);
  const revoked = await newAccountWithKey(db.pool);
  await revokeApiKey(db.pool, revoked.keyId);
  const image = await jsonOf(await postJson(owner.auth, { url: 'https://example.com/a.jpg' }));
  const routes: [string, (id: string) => string][] = [
    ['GET', (id) => `/v1/images/${id}`],
    ['GET', (id) => `/v1/images/${id}/original`],
    ['DELETE', (id) => `/v1/images/${id}`],
  ];
  const keyCases: [string, Record<string, string>][] = [
    ['none', {}],
    ['malformed', { Authorization: 'Bearer nope' }],
    ['revoked', revoked.auth],
  ];
  for (const [method, path] of [
    ...routes,
    ['GET', () => '/v1/images'] as const,
    ['POST', () => '/v1/images'] as const,
  ]) {
    for (const [name, headers] of keyCases) {
      const res = await fetch(`${api.base}${path(image.id)}`, { method, headers });
      assert.equal(res.status, 401, `${method} ${name}`);
    }
  }
  const missing = newId('image');
  for (const [method, path] of routes) {
    const foreign = await fetch(`${api.base}${path(image.id)}`, { method, headers: other.auth });
    const absent = await fetch(`${api.base}${path(missing)}`, { method, headers: other.auth });
    assert.equal(foreign.status, absent.status, `${method} foreign answers like missing`);
    if (method !== 'DELETE') {
      assert.equal(foreign.status, 404);
      const [a, b] = [await jsonOf(foreign), await jsonOf(absent)];
      assert.equal(a.code, b.code);
    }
    for (const bad of ['img_nope', newId('job'), 'x']) {
      const res = await fetch(`${api.base}${path(bad)}`, { method, headers: owner.auth });
      assert.equal(res.status, 404, `${method} ${bad}`);
    }
  }
  // The foreign DELETE did not delete it.
  assert.equal((await fetch(`${api.base}/v1/images/${image.id}`, { headers: owner.auth })).status, 200);
  const list = await jsonOf(await fetch(`${api.base}/v1/images`, { headers: other.auth }));
  assert.deepEqual(list.data, []);
});

test('pagination walks 250 images newest first without gaps or repeats, both ways', async () => {
  const { auth, account } = await newAccountWithKey(db.pool);
  const values: string[] = [];
  const ids: string[] = [];
  for (let i = 0; i < 250; i++) {
    const id = newId('image');
    ids.push(id);
    values.push(`('${id}', '${account.id}', 'url', 'https://example.com/${i}.jpg')`);
  }
  await db.pool.query(`INSERT INTO images (id, account_id, source, url) VALUES ${values.join(',')}`);
  const expected = [...ids].sort().reverse();
  const seen: string[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await jsonOf(
      await fetch(`${api.base}/v1/images?limit=100${cursor ? `&starting_after=${cursor}` : ''}`, {
        headers: auth,
      }),
    );
    seen.push(...page.data.map((i: { id: string }) => i.id));
    if (!page.has_more) break;
    cursor = seen.at(-1);
  }
  assert.deepEqual(seen, expected);
  const back: string[] = [];
  cursor = expected.at(-1);
  back.unshift(cursor!);
  for (;;) {
    const page = await jsonOf(
      await fetch(`${api.base}/v1/images?limit=30&ending_before=${cursor}`, { headers: auth }),
    );
    back.unshift(...page.data.map((i: { id: string }) => i.id));
    if (!page.has_more) break;
    cursor = back[0];
  }
  assert.deepEqual(back, expected);
  const bad = await fetch(`${api.base}/v1/images?limit=101`, { headers: auth });
  assert.equal(bad.status, 400);
  assert.equal((await jsonOf(bad)).errors[0].field, 'limit');
  const badCursor = await fetch(`${api.base}/v1/images?starting_after=acc_x`, { headers: auth });
  assert.equal((await jsonOf(badCursor)).errors[0].field, 'starting_after');
});

test('list filters by status and checksum', async () => {
  const { auth, account } = await newAccountWithKey(db.pool);
  const sum = 'a'.repeat(64);
  await db.pool.query(
    `INSERT INTO images (id, account_id, source, status, checksum) VALUES ($1, $3, 'upload', 'completed', $4), ($2, $3, 'upload', 'failed', NULL)`,
    [newId('image'), newId('image'), account.id, sum],
  );
  const completed = await jsonOf(await fetch(`${api.base}/v1/images?status=completed`, { headers: auth }));
  assert.equal(completed.data.length, 1);
  const byChecksum = await jsonOf(await fetch(`${api.base}/v1/images?checksum=${sum}`, { headers: auth }));
  assert.equal(byChecksum.data[0].checksum, sum);
  assert.equal((await fetch(`${api.base}/v1/images?status=weird`, { headers: auth })).status, 400);
});

test('DELETE removes the row, pending tasks and blobs; repeating it is harmless', async () => {
  const { auth } = await newAccountWithKey(db.pool);
  const form = new FormData();
  form.set('file', new Blob([jpeg]), 'a.jpg');
  const image = await jsonOf(
    await fetch(`${api.base}/v1/images`, { method: 'POST', headers: auth, body: form }),
  );
  assert.equal((await blobFiles()).filter((f) => f.endsWith(image.id)).length, 1);
  assert.equal(
    (await fetch(`${api.base}/v1/images/${image.id}`, { method: 'DELETE', headers: auth })).status,
    204,
  );
  assert.equal((await fetch(`${api.base}/v1/images/${image.id}`, { headers: auth })).status, 404);
  assert.equal(await countRows('tasks', 'subject_id = $1', [image.id]), 0);
  assert.equal((await blobFiles()).filter((f) => f.endsWith(image.id)).length, 0);
  assert.equal(
    (await fetch(`${api.base}/v1/images/${image.id}`, { method: 'DELETE', headers: auth })).status,
    204,
  );
});

test('Idempotency-Key: replay, different body 422, concurrent duplicates create one image', async () => {
  const { auth, account } = await newAccountWithKey(db.pool);
  const body = { url: 'https://example.com/idem.jpg', passthrough: { n: 1 } };
  const first = await postJson(auth, body, { 'Idempotency-Key': 'k-1' });
  const firstText = await first.text();
  const replay = await postJson(auth, body, { 'Idempotency-Key': 'k-1' });
  assert.equal(replay.status, 202);
  assert.equal(replay.headers.get('idempotent-replayed'), 'true');
  assert.equal(replay.headers.get('location'), first.headers.get('location'));
  assert.equal(await replay.text(), firstText);
  const different = await postJson(auth, { ...body, passthrough: { n: 2 } }, { 'Idempotency-Key': 'k-1' });
  assert.equal(different.status, 422);
  assert.equal((await jsonOf(different)).code, 'idempotency_key_reused');

  const racers = await Promise.all(
    Array.from({ length: 8 }, () =>
      postJson(auth, { url: 'https://example.com/race.jpg' }, { 'Idempotency-Key': 'race' }),
    ),
  );
  const statuses = racers.map((r) => r.status);
  assert.ok(
    statuses.every((s) => s === 202 || s === 409),
    statuses.join(),
  );
  assert.equal(
    await countRows('images', "account_id = $1 AND url = 'https://example.com/race.jpg'", [account.id]),
    1,
  );
  const ids = new Set(
    await Promise.all(racers.filter((r) => r.status === 202).map(async (r) => (await jsonOf(r)).id)),
  );
  assert.equal(ids.size, 1);

  // Keys are per account.
  const other = await newAccountWithKey(db.pool);
  assert.equal(
    (await postJson(other.auth, body, { 'Idempotency-Key': 'k-1' })).headers.get('idempotent-replayed'),
    null,
  );

  // Uploads: same bytes and fields replay; the duplicate blob is not kept.
  const upload = () => {
    const form = new FormData();
    form.set('file', new Blob([jpeg]), 'a.jpg');
    return fetch(`${api.base}/v1/images`, {
      method: 'POST',
      headers: { ...auth, 'Idempotency-Key': 'up' },
      body: form,
    });
  };
  const u1 = await jsonOf(await upload());
  const u2 = await upload();
  assert.equal(u2.headers.get('idempotent-replayed'), 'true');
  assert.equal((await jsonOf(u2)).id, u1.id);
  assert.equal((await blobFiles()).filter((f) => f.includes(account.id)).length, 1);
});

test('rate limits: RateLimit-* headers, then 429 with Retry-After, shared through the database', async () => {
  const limited = await startApi(db.pool, { rateLimitPerMinute: 5 });
  const second = await startApi(db.pool, { rateLimitPerMinute: 5 });
  const { auth } = await newAccountWithKey(db.pool);
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) {
    // Alternate between two api instances: the budget is shared.
    const res = await fetch(`${(i % 2 ? second : limited).base}/v1/images`, { headers: auth });
    statuses.push(res.status);
    if (res.status === 200) {
      assert.equal(res.headers.get('ratelimit-limit'), '5');
      assert.equal(res.headers.get('ratelimit-remaining'), String(4 - i));
      assert.ok(Number(res.headers.get('ratelimit-reset')) > 0);
    } else {
      assert.equal(res.status, 429);
      assert.ok(Number(res.headers.get('retry-after')) >= 1);
      assert.equal((await jsonOf(res)).code, 'rate_limited');
    }
  }
  // A window can roll over mid-test; then the count restarts, never exceeding the limit.
  assert.ok(statuses.filter((s) => s === 200).length >= 5);
});
