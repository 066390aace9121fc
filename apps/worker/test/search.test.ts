/**
 * POST /v1/images/search: the account's near-duplicates of a hash, an upload, a base64 image or
 * a URL, nothing stored; bad inputs end in clear problems; flat images match nothing.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { jsonOf, newAccountWithKey } from '../../../test/helpers/api.ts';
import { CORPUS } from '../../../test/helpers/corpus.ts';
import { freshDatabase } from '../../../test/helpers/db.ts';
import { startServer } from '../../../test/helpers/http.ts';
import { startPipeline } from '../../../test/helpers/pipeline.ts';

const read = (p: string) => readFile(path.join(CORPUS, p));

test('search by upload, hash, base64 and URL finds the same image; nothing is stored', async () => {
  const db = await freshDatabase();
  const p = await startPipeline(db.pool, db.url);
  const { auth } = await newAccountWithKey(db.pool);
  const stranger = await newAccountWithKey(db.pool);
  const upright = await jsonOf(
    await fetch(`${p.api.base}/v1/images`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'image/jpeg' },
      body: await read('orientation/Landscape_1.jpg'),
    }),
  );
  await p.settle([upright.id]);
  const stored = await jsonOf(await fetch(`${p.api.base}/v1/images/${upright.id}`, { headers: auth }));
  const rotated = await read('orientation/Landscape_6.jpg');
  const source = await startServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'image/jpeg' }).end(rotated),
  );
  const count = async () => (await db.pool.query('SELECT count(*)::int AS n FROM images')).rows[0].n;
  const before = await count();
  const search = async (body: unknown, headers: Record<string, string> = auth, query = '') => {
    const isBytes = Buffer.isBuffer(body);
    const res = await fetch(`${p.api.base}/v1/images/search${query}`, {
      method: 'POST',
      headers: { ...headers, 'Content-Type': isBytes ? 'image/jpeg' : 'application/json' },
      body: isBytes ? (body as Buffer) : JSON.stringify(body),
    });
    return { status: res.status, body: await jsonOf(res) };
  };
  const ids = (r: { body: { data: { image: { id: string } }[] } }) => r.body.data.map((d) => d.image.id);

  const byUpload = await search(rotated, auth, '?hash=both&max_distance=4');
  assert.equal(byUpload.status, 200, JSON.stringify(byUpload.body));
  assert.deepEqual(ids(byUpload), [upright.id]);
  assert.equal(byUpload.body.data[0].phash_distance, 0);
  assert.equal(byUpload.body.query.phash, stored.phash, 'the rotated photo hashes as the upright one');

  const byHash = await search({ phash: stored.phash, dhash: stored.dhash, hash: 'both', max_distance: 0 });
  assert.deepEqual(ids(byHash), [upright.id]);
  const byBase64 = await search({ image_data: rotated.toString('base64') });
  assert.deepEqual(ids(byBase64), [upright.id]);
  const byUrl = await search({ url: `${source.url}/photo.jpg` });
  assert.deepEqual(ids(byUrl), [upright.id]);
  assert.equal(await count(), before, 'a search stores nothing');

  // Per account, always.
  assert.deepEqual(ids(await search(rotated, stranger.auth)), []);

  // Bad inputs: clear problems.
  assert.equal((await search({ phash: stored.phash, url: `${source.url}/x` })).status, 400);
  assert.equal((await search({ phash: 'xyz' })).status, 400);
  assert.equal((await search({ phash: stored.phash, hash: 'both' })).status, 400, 'both needs dhash');
  const notImage = await search(Buffer.from('definitely not an image, just text'));
  assert.equal(notImage.status, 422);
  assert.match(notImage.body.code, /not_an_image|unsupported|decode/);
  const unreachable = await search({ url: 'http://127.0.0.1:9/photo.jpg' });
  assert.equal(unreachable.status, 422, 'a URL that cannot be fetched is the request’s fault');

  // A flat image matches nothing and says why.
  const flat = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#777777' } })
    .png()
    .toBuffer();
  const flatSearch = await search(flat, auth, '?max_distance=20');
  assert.equal(flatSearch.status, 200);
  assert.equal(flatSearch.body.query.hash_degenerate, true);
  assert.deepEqual(flatSearch.body.data, []);
});
