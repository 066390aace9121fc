/**
 * Delivery through the real api and worker: named presets in signed URLs (and presets-only
 * mode), purge across two api processes that learn of it through PostgreSQL, and per-account
 * intake rules (at the door for uploads, rejected_by_rule in the worker and the webhook).
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { jsonOf, newAccountWithKey, startApi, TEST_SECRET } from '../helpers/api.ts';
import { CORPUS } from '../helpers/corpus.ts';
import { freshDatabase } from '../helpers/db.ts';
import { startServer } from '../helpers/http.ts';
import { startPipeline } from '../helpers/pipeline.ts';
import { startReceiver } from '../helpers/receiver.ts';

const JPEG = path.join(CORPUS, 'orientation/Landscape_1.jpg'); // 1800×1200, 347 kB
const GIF = path.join(CORPUS, 'animated/gif/1000x1000_full_frame_replace.gif'); // animated
const PNG = path.join(CORPUS, 'formats/png/gimp_gray_alpha_tIME_bKGD.png');

type Auth = Record<string, string>;

async function upload(base: string, auth: Auth, file: string, type: string, query = '') {
  return fetch(`${base}/v1/images${query}`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': type },
    body: await readFile(file),
  });
}

async function urlsFor(base: string, auth: Auth, id: string, urls: object[]) {
  return fetch(`${base}/v1/images/${id}/urls`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ urls }),
  });
}

/** A signed path made by hand, as a client library in another language would. */
function handSigned(options: string, id: string, ext: string): string {
  const sig = createHmac('sha256', TEST_SECRET).update(`${options}/${id}.${ext}`).digest('base64url');
  return `/i/${sig}/${options}/${id}.${ext}`;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && !e.parentPath.includes('.tmp')).map((e) => e.name);
}

async function eventually(check: () => Promise<boolean>, what: string, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('named presets: p:<name> renders the configured options, listed at GET /v1/presets', async () => {
  const db = await freshDatabase();
  const presets = {
    thumbnail: { width: 150, height: 150, fit: 'cover' as const },
    hero: { width: 600, format: 'webp' as const },
    card: { width: 320, height: 200, fit: 'cover' as const, format: 'auto' as const },
  };
  const p = await startPipeline(db.pool, db.url, {}, { presets });
  const { auth } = await newAccountWithKey(db.pool);
  const created = await jsonOf(await upload(p.api.base, auth, JPEG, 'image/jpeg'));
  await p.settle([created.id]);

  const listed = await jsonOf(await fetch(`${p.api.base}/v1/presets`, { headers: auth }));
  assert.equal(listed.presets_only, false);
  assert.deepEqual(
    listed.data.map((x: { name: string }) => x.name),
    ['thumbnail', 'hero', 'card'],
  );
  assert.deepEqual(listed.data[0], { name: 'thumbnail', width: 150, height: 150, fit: 'cover' });
  assert.equal((await fetch(`${p.api.base}/v1/presets`)).status, 401);

  // The bare form from the docs, signed by hand: no key id, only the preset.
  const bare = await fetch(`${p.api.base}${handSigned('p:thumbnail', created.id, 'jpg')}`);
  assert.equal(bare.status, 200);
  const thumb = await sharp(Buffer.from(await bare.arrayBuffer())).metadata();
  assert.deepEqual([thumb.format, thumb.width, thumb.height], ['jpeg', 150, 150]);

  // Through the API: the preset's format is the extension; explicit options override the preset.
  const made = await jsonOf(
    await urlsFor(p.api.base, auth, created.id, [
      { preset: 'hero' },
      { preset: 'thumbnail', width: 90, format: 'png' },
      { preset: 'card' },
    ]),
  );
  assert.match(made.urls[0].url, /\/k:1,p:hero\/img_\w+\.webp$/);
  assert.match(made.urls[1].url, /\/k:1,p:thumbnail,w:90\/img_\w+\.png$/);
  assert.match(made.urls[2].url, /\/k:1,p:card\/img_\w+\.jpg$/);
  const hero = await fetch(`${p.api.base}${made.urls[0].url}`);
  const heroMeta = await sharp(Buffer.from(await hero.arrayBuffer())).metadata();
  assert.deepEqual([heroMeta.format, heroMeta.width, heroMeta.height], ['webp', 600, 400]);
  const small = await sharp(
    Buffer.from(await (await fetch(`${p.api.base}${made.urls[1].url}`)).arrayBuffer()),
  ).metadata();
  assert.deepEqual([small.format, small.width, small.height], ['png', 90, 150]);
  // A preset with format auto negotiates like f:auto.
  const card = await fetch(`${p.api.base}${made.urls[2].url}`, { headers: { accept: 'image/avif,*/*' } });
  assert.equal(card.headers.get('content-type'), 'image/avif');
  assert.equal(card.headers.get('vary'), 'Accept');
  const cardCurl = await fetch(`${p.api.base}${made.urls[2].url}`, { headers: { accept: '*/*' } });
  assert.equal(cardCurl.headers.get('content-type'), 'image/jpeg');

  // An unknown preset: refused when signing, and in a (validly signed) URL.
  const unknown = await urlsFor(p.api.base, auth, created.id, [{ preset: 'poster' }]);
  assert.equal(unknown.status, 400);
  assert.equal((await jsonOf(unknown)).errors[0].field, 'urls.0.preset');
  const stale = await fetch(`${p.api.base}${handSigned('p:poster', created.id, 'jpg')}`);
  assert.equal(stale.status, 400);
  assert.equal((await jsonOf(stale)).code, 'unknown_preset');
});

test('SIGNED_URLS_PRESETS_ONLY: only preset URLs render; arbitrary options are refused', async () => {
  const db = await freshDatabase();
  const p = await startPipeline(db.pool, db.url, {}, { presetsOnly: true });
  const { auth } = await newAccountWithKey(db.pool);
  const created = await jsonOf(await upload(p.api.base, auth, JPEG, 'image/jpeg'));
  await p.settle([created.id]);

  const listed = await jsonOf(await fetch(`${p.api.base}/v1/presets`, { headers: auth }));
  assert.equal(listed.presets_only, true);
  // Signing arbitrary options is refused; a preset (with an expiry, any extension) is fine.
  const refused = await urlsFor(p.api.base, auth, created.id, [{ width: 300 }]);
  assert.equal(refused.status, 400);
  const overridden = await urlsFor(p.api.base, auth, created.id, [{ preset: 'thumbnail', width: 300 }]);
  assert.equal(overridden.status, 400);
  const made = await jsonOf(
    await urlsFor(p.api.base, auth, created.id, [{ preset: 'medium', format: 'webp', expires_in: 600 }]),
  );
  const ok = await fetch(`${p.api.base}${made.urls[0].url}`);
  assert.equal(ok.status, 200);
  assert.equal((await sharp(Buffer.from(await ok.arrayBuffer())).metadata()).width, 500);
  // A URL with options, even correctly signed, is refused before any storage or decode.
  const rendersBefore = p.api.renders.count;
  for (const options of ['k:1,w:300', 'w:300', 'k:1,p:thumbnail,w:300', 'k:1,p:thumbnail,f:auto']) {
    const res = await fetch(`${p.api.base}${handSigned(options, created.id, 'jpg')}`);
    assert.equal(res.status, 400, options);
    assert.equal((await jsonOf(res)).code, 'presets_only', options);
  }
  assert.equal(p.api.renders.count, rendersBefore);
});

test('purge: every api process drops its renderings, new URLs carry the new version, old ones re-render', async () => {
  const db = await freshDatabase();
  const p = await startPipeline(db.pool, db.url);
  // A second api process on the same database and blob store, with its own disk cache.
  const other = await startApi(db.pool, { blobRoot: p.api.blobRoot, storage: p.api.storage });
  const { auth } = await newAccountWithKey(db.pool);
  const other2 = await newAccountWithKey(db.pool, 'other');
  const created = await jsonOf(await upload(p.api.base, auth, JPEG, 'image/jpeg'));
  const bystander = await jsonOf(await upload(p.api.base, auth, JPEG, 'image/jpeg'));
  await p.settle([created.id, bystander.id]);

  const before = await jsonOf(
    await urlsFor(p.api.base, auth, created.id, [{ width: 200 }, { preset: 'thumbnail' }]),
  );
  assert.equal(before.rendition_version, 1);
  const bystanderUrl = (await jsonOf(await urlsFor(p.api.base, auth, bystander.id, [{ width: 200 }]))).urls[0]
    .url;
  const etags = new Map<string, string>();
  for (const api of [p.api, other]) {
    for (const { url } of [...before.urls, { url: bystanderUrl }]) {
      const res = await fetch(`${api.base}${url}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('cache-tag'), url.includes(created.id) ? created.id : bystander.id);
      assert.equal(res.headers.get('surrogate-key'), res.headers.get('cache-tag'));
      assert.equal(res.headers.get('x-accel-expires'), '600');
      etags.set(url, res.headers.get('etag')!);
      await res.arrayBuffer();
    }
  }
  await eventually(async () => (await filesUnder(other.cache.dir)).length === 3, 'the renders to be cached');
  await eventually(async () => (await filesUnder(p.api.cache.dir)).length === 3, 'the renders to be cached');

  // Another account cannot purge it.
  const foreign = await fetch(`${p.api.base}/v1/images/${created.id}/purge`, {
    method: 'POST',
    headers: other2.auth,
  });
  assert.equal(foreign.status, 404);

  const purged = await jsonOf(
    await fetch(`${p.api.base}/v1/images/${created.id}/purge`, { method: 'POST', headers: auth }),
  );
  assert.equal(purged.rendition_version, 2);
  assert.equal(purged.cache_tag, created.id);
  // The process that answered dropped its copies; the other one hears of it through PostgreSQL.
  assert.equal((await filesUnder(p.api.cache.dir)).length, 1, 'only the bystander stays');
  await eventually(
    async () => (await filesUnder(other.cache.dir)).length === 1,
    'the other process to drop them',
  );
  const image = await jsonOf(await fetch(`${p.api.base}/v1/images/${created.id}`, { headers: auth }));
  assert.equal(image.rendition_version, 2);

  // URLs issued from now on differ from the old ones.
  const after = await jsonOf(
    await urlsFor(p.api.base, auth, created.id, [{ width: 200 }, { preset: 'thumbnail' }]),
  );
  assert.equal(after.rendition_version, 2);
  assert.match(after.urls[0].url, /\/k:1,w:200,v:2\//);
  assert.match(after.urls[1].url, /\/k:1,p:thumbnail,v:2\//);
  for (let i = 0; i < 2; i++) assert.notEqual(after.urls[i].url, before.urls[i].url);

  // Old URLs keep working (documented choice): rendered again, under a new ETag, in both processes.
  for (const api of [p.api, other]) {
    const renders = api.renders.count;
    const old = await fetch(`${api.base}${before.urls[0].url}`, {
      headers: { 'if-none-match': etags.get(before.urls[0].url)! },
    });
    assert.equal(old.status, 200, 'the old ETag no longer matches');
    assert.equal(old.headers.get('x-cache'), 'MISS');
    assert.notEqual(old.headers.get('etag'), etags.get(before.urls[0].url));
    await old.arrayBuffer();
    assert.equal(api.renders.count, renders + 1);
    const fresh = await fetch(`${api.base}${after.urls[0].url}`);
    assert.equal(fresh.status, 200);
    assert.equal(fresh.headers.get('etag'), old.headers.get('etag'), 'old and new URL share one rendering');
    await fresh.arrayBuffer();
    // The bystander's rendering was untouched.
    const b = await fetch(`${api.base}${bystanderUrl}`);
    assert.equal(b.headers.get('x-cache'), 'HIT');
    await b.arrayBuffer();
  }
  // A version from the future (signed, but never issued) is not found.
  const future = await fetch(`${p.api.base}${handSigned('w:200,v:9', created.id, 'jpg')}`);
  assert.equal(future.status, 404);

  // Deleting the image reaches the other process's cache the same way.
  await eventually(
    async () => (await filesUnder(other.cache.dir)).length === 2,
    'the re-render to be cached',
  );
  const del = await fetch(`${p.api.base}/v1/images/${created.id}`, { method: 'DELETE', headers: auth });
  assert.equal(del.status, 204);
  await eventually(async () => (await filesUnder(other.cache.dir)).length === 1, 'the deletion to be heard');
  assert.equal((await fetch(`${other.base}${after.urls[0].url}`)).status, 404);
});

test('intake rules: PATCH /v1/account sets them; uploads break byte rules at the door, the rest fail rejected_by_rule', async () => {
  const db = await freshDatabase();
  const p = await startPipeline(db.pool, db.url);
  const { auth, account } = await newAccountWithKey(db.pool);
  const bystander = await newAccountWithKey(db.pool, 'bystander');
  const patch = (body: unknown) =>
    fetch(`${p.api.base}/v1/account`, {
      method: 'PATCH',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });

  const initial = await jsonOf(await fetch(`${p.api.base}/v1/account`, { headers: auth }));
  assert.equal(initial.id, account.id);
  assert.deepEqual(initial.intake_rules, {}, 'the default accepts everything');

  // Invalid rules are refused whole, naming the field.
  for (const [body, field] of [
    [{ intake_rules: { allowed_formats: ['bmp'] } }, 'intake_rules.allowed_formats.0'],
    [{ intake_rules: { min_width: 0 } }, 'intake_rules.min_width'],
    [{ intake_rules: { min_width: 500, max_width: 100 } }, 'intake_rules.min_width'],
    [{ intake_rules: { max_bytes: 'lots' } }, 'intake_rules.max_bytes'],
    [{ intake_rules: { colour: 'red' } }, 'intake_rules.colour'],
  ] as const) {
    const res = await patch(body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal((await jsonOf(res)).errors[0].field, field, JSON.stringify(body));
  }
  const set = await jsonOf(
    await patch({
      intake_rules: {
        allowed_formats: ['jpeg', 'gif'],
        min_width: 200,
        max_width: 4000,
        allow_animated: false,
      },
    }),
  );
  assert.deepEqual(set.intake_rules, {
    allowed_formats: ['jpeg', 'gif'],
    min_width: 200,
    max_width: 4000,
    allow_animated: false,
  });
  // A merge patch: null removes one rule, the others stay.
  const merged = await jsonOf(await patch({ intake_rules: { max_width: null, max_bytes: 300_000 } }));
  assert.deepEqual(merged.intake_rules, {
    allowed_formats: ['jpeg', 'gif'],
    min_width: 200,
    allow_animated: false,
    max_bytes: 300_000,
  });

  const countImages = async () =>
    (await db.pool.query('SELECT count(*)::int AS n FROM images WHERE account_id = $1', [account.id])).rows[0]
      .n;
  const blobs = async () =>
    (await filesUnder(p.api.blobRoot)).filter((f) => !/^[0-9a-f]{56}$/.test(f)).length;
  const blobsBefore = await blobs();

  // At the door: a PNG (format rule) → 415 whatever the Content-Type says; too many bytes → 413.
  for (const type of ['image/png', 'image/jpeg', 'application/octet-stream']) {
    const res = await upload(p.api.base, auth, PNG, type);
    assert.equal(res.status, 415, type);
    const problem = await jsonOf(res);
    assert.equal(problem.code, 'rejected_by_rule');
    assert.equal(problem.rule, 'allowed_formats');
  }
  const form = new FormData();
  form.set('file', new Blob([await readFile(PNG)]), 'x.png');
  const multipart = await fetch(`${p.api.base}/v1/images`, { method: 'POST', headers: auth, body: form });
  assert.equal(multipart.status, 415);
  assert.equal((await jsonOf(multipart)).rule, 'allowed_formats');
  const big = await upload(p.api.base, auth, JPEG, 'image/jpeg');
  assert.equal(big.status, 413);
  const bigProblem = await jsonOf(big);
  assert.deepEqual([bigProblem.code, bigProblem.rule], ['rejected_by_rule', 'max_bytes']);
  const bigForm = new FormData();
  bigForm.set('file', new Blob([await readFile(JPEG)]), 'big.jpg');
  const bigMultipart = await fetch(`${p.api.base}/v1/images`, {
    method: 'POST',
    headers: auth,
    body: bigForm,
  });
  assert.equal(bigMultipart.status, 413);
  assert.equal((await jsonOf(bigMultipart)).rule, 'max_bytes');
  assert.equal(await countImages(), 0, 'nothing refused at the door became an image');
  assert.equal(await blobs(), blobsBefore, 'nothing refused at the door was stored');

  // Past the door: too narrow, animated; each fails with the rule named, in the webhook too.
  await patch({ intake_rules: { max_bytes: null } });
  const hook = await startReceiver();
  const narrow = await sharp(await readFile(JPEG))
    .resize(150)
    .jpeg()
    .toBuffer();
  const hookQuery = `?webhook_url=${encodeURIComponent(hook.url)}`;
  const narrowImage = await jsonOf(
    await fetch(`${p.api.base}/v1/images${hookQuery}`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'image/jpeg' },
      body: narrow,
    }),
  );
  const animated = await jsonOf(await upload(p.api.base, auth, GIF, 'image/gif', hookQuery));
  const accepted = await jsonOf(await upload(p.api.base, auth, JPEG, 'image/jpeg', hookQuery));
  // The same bytes from another account, whose rules are the defaults, are fine.
  const elsewhere = await jsonOf(await upload(p.api.base, bystander.auth, PNG, 'image/png'));
  await p.settle([narrowImage.id, animated.id, accepted.id, elsewhere.id]);
  const get = async (id: string, a: Auth = auth) =>
    jsonOf(await fetch(`${p.api.base}/v1/images/${id}`, { headers: a }));
  const n = await get(narrowImage.id);
  assert.equal(n.status, 'failed');
  assert.deepEqual([n.error.code, n.error.rule], ['rejected_by_rule', 'min_width']);
  assert.match(n.error.message, /150 px wide; at least 200/);
  assert.equal(n.attempts, 1, 'a rule is not retried');
  const a = await get(animated.id);
  assert.deepEqual([a.status, a.error.code, a.error.rule], ['failed', 'rejected_by_rule', 'allow_animated']);
  assert.equal((await get(accepted.id)).status, 'completed');
  assert.equal((await get(elsewhere.id, bystander.auth)).status, 'completed');
  // Nothing of a refused image was rendered.
  assert.deepEqual(n.variants, {});

  await eventually(async () => hook.received.length >= 3, 'the webhooks', 30_000);
  const events = hook.received.map((r) => JSON.parse(r.body));
  const failed = events.find((e) => e.data.id === narrowImage.id);
  assert.equal(failed.type, 'image.failed');
  assert.deepEqual(failed.data.error, n.error);

  // A URL image is judged the same way (format sniffed from the bytes, not the URL).
  const server = await startServer(async (req, res) => {
    // Both claim to be JPEGs: a PNG in disguise, and a real JPEG of 347 kB.
    res
      .writeHead(200, { 'Content-Type': 'image/jpeg' })
      .end(await readFile(req.url === '/big.jpg' ? JPEG : PNG));
  });
  const byUrl = await jsonOf(
    await fetch(`${p.api.base}/v1/images`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ url: `${server.url}/photo.jpg` }),
    }),
  );
  await p.settle([byUrl.id]);
  const u = await get(byUrl.id);
  assert.deepEqual([u.status, u.error.code, u.error.rule], ['failed', 'rejected_by_rule', 'allowed_formats']);
  // And a URL image over a byte rule stops downloading at the rule.
  await patch({ intake_rules: { allowed_formats: null, max_bytes: 100_000 } });
  const big2 = await jsonOf(
    await fetch(`${p.api.base}/v1/images`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ url: `${server.url}/big.jpg` }),
    }),
  );
  await p.settle([big2.id]);
  const b = await get(big2.id);
  assert.deepEqual([b.status, b.error.code, b.error.rule], ['failed', 'rejected_by_rule', 'max_bytes']);
});
