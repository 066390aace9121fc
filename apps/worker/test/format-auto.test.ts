/**
 * f:auto signed URLs through the real api and worker: one URL, AVIF for a browser that names
 * it, WebP for one that names only WebP, the original's family for curl; Vary: Accept; one
 * cached rendering and one ETag per negotiated format.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { jsonOf, newAccountWithKey } from '../../../test/helpers/api.ts';
import { CORPUS } from '../../../test/helpers/corpus.ts';
import { freshDatabase } from '../../../test/helpers/db.ts';
import { startPipeline } from '../../../test/helpers/pipeline.ts';

const CHROMIUM = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8';
const SAFARI_15 = 'image/webp,image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5';
const CURL = '*/*';

test('one f:auto URL serves AVIF, WebP or JPEG by Accept, each cached and tagged apart', async () => {
  const db = await freshDatabase();
  const p = await startPipeline(db.pool, db.url);
  const { auth } = await newAccountWithKey(db.pool);
  const created = await jsonOf(
    await fetch(`${p.api.base}/v1/images`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'image/jpeg' },
      body: await readFile(path.join(CORPUS, 'orientation/Landscape_1.jpg')),
    }),
  );
  await p.settle([created.id]);
  const urls = await jsonOf(
    await fetch(`${p.api.base}/v1/images/${created.id}/urls`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ urls: [{ width: 120, format: 'auto' }] }),
    }),
  );
  const url = `${p.api.base}${urls.urls[0].url}`;
  assert.match(urls.urls[0].url, /\/k:1,w:120,f:auto\/img_\w+\.jpg$/, 'the extension is the JPEG fallback');

  const get = async (accept: string, headers: Record<string, string> = {}) => {
    const res = await fetch(url, { headers: { accept, ...headers } });
    const body = Buffer.from(await res.arrayBuffer());
    return { res, body };
  };
  const etags = new Map<string, string>();
  for (const [accept, mime, format] of [
    [CHROMIUM, 'image/avif', 'heif'],
    [SAFARI_15, 'image/webp', 'webp'],
    [CURL, 'image/jpeg', 'jpeg'],
  ] as const) {
    const { res, body } = await get(accept);
    assert.equal(res.status, 200, accept);
    assert.equal(res.headers.get('content-type'), mime, accept);
    assert.equal(res.headers.get('vary'), 'Accept');
    const meta = await sharp(body).metadata();
    assert.equal(meta.format, format, accept);
    assert.equal(meta.width, 120);
    etags.set(mime, res.headers.get('etag')!);
    // The same class again is a cache hit of that format (the disk write follows the response,
    // so allow it a moment), and its ETag revalidates.
    let again = await get(accept);
    for (let i = 0; i < 50 && again.res.headers.get('x-cache') !== 'HIT'; i++) {
      await new Promise((r) => setTimeout(r, 20));
      again = await get(accept);
    }
    assert.equal(again.res.headers.get('x-cache'), 'HIT', accept);
    assert.equal(again.res.headers.get('content-type'), mime);
    const revalidated = await get(accept, { 'if-none-match': res.headers.get('etag')! });
    assert.equal(revalidated.res.status, 304);
    assert.equal(revalidated.res.headers.get('vary'), 'Accept');
  }
  assert.equal(new Set(etags.values()).size, 3, 'one ETag per negotiated format');
  // A fixed-format URL does not vary.
  const fixed = await jsonOf(
    await fetch(`${p.api.base}/v1/images/${created.id}/urls`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ urls: [{ width: 120, format: 'webp' }] }),
    }),
  );
  const plain = await fetch(`${p.api.base}${fixed.urls[0].url}`, { headers: { accept: CHROMIUM } });
  assert.equal(plain.headers.get('content-type'), 'image/webp');
  assert.equal(plain.headers.get('vary'), null);
});
