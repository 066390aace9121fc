/**
 * HEVC-coded HEIC through the whole path, on a sharp build without an HEVC decoder: libheif in
 * WebAssembly decodes it in the media pool, so the image completes with hashes, palette,
 * placeholder and variants, and signed URLs render it.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { jsonOf, newAccountWithKey } from '../../../test/helpers/api.ts';
import { REPO_CORPUS } from '../../../test/helpers/corpus.ts';
import { freshDatabase } from '../../../test/helpers/db.ts';
import { startPipeline } from '../../../test/helpers/pipeline.ts';

test('a HEIC ends with hashes, a placeholder, a thumbnail variant and signed-URL renditions', async () => {
  const db = await freshDatabase();
  const p = await startPipeline(db.pool, db.url);
  const { auth } = await newAccountWithKey(db.pool);
  const bytes = await readFile(path.join(REPO_CORPUS, 'formats/heic/libheif_rainbow_451x461.heic'));
  const created = await jsonOf(
    await fetch(`${p.api.base}/v1/images?variants=thumbnail`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'image/heic' },
      body: bytes,
    }),
  );
  await p.settle([created.id]);
  const image = await jsonOf(await fetch(`${p.api.base}/v1/images/${created.id}`, { headers: auth }));
  assert.equal(image.status, 'completed', JSON.stringify(image.error));
  assert.equal(image.format.name, 'heic');
  assert.deepEqual([image.width, image.height], [451, 461], 'the displayed size (clap applied)');
  assert.match(image.phash, /^[0-9a-f]{16}$/);
  assert.match(image.dhash, /^[0-9a-f]{16}$/);
  assert.equal(image.hash_degenerate, false);
  assert.ok(image.placeholder && image.placeholder.length > 10);
  assert.ok(image.palette.length >= 3, 'a rainbow has colours');

  const variant = await fetch(`${p.api.base}/v1/images/${created.id}/variants/thumbnail`, { headers: auth });
  assert.equal(variant.status, 200);
  const thumb = await sharp(Buffer.from(await variant.arrayBuffer())).metadata();
  assert.equal(thumb.width, 100);

  const urls = await jsonOf(
    await fetch(`${p.api.base}/v1/images/${created.id}/urls`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ urls: [{ width: 64, height: 64, fit: 'cover', format: 'png' }] }),
    }),
  );
  const rendition = await fetch(`${p.api.base}${urls.urls[0].url}`);
  assert.equal(rendition.status, 200);
  const png = await sharp(Buffer.from(await rendition.arrayBuffer()))
    .raw()
    .toBuffer({ resolveWithObject: true });
  assert.deepEqual([png.info.width, png.info.height], [64, 64]);
  // The rainbow's pixels came through: not a blank or black square.
  const distinct = new Set<string>();
  for (let i = 0; i < png.data.length; i += png.info.channels * 97)
    distinct.add(`${png.data[i]},${png.data[i + 1]},${png.data[i + 2]}`);
  assert.ok(distinct.size > 10, `${distinct.size} distinct colours`);
});
