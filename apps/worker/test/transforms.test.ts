import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import {
  dhash,
  hammingDistance,
  OPERATIONS,
  OUTPUT_FORMATS,
  toPillowGrey,
  transformImage,
} from '@imgkit/media';
import { signPath } from '@imgkit/urls';
import sharp from 'sharp';
import { Webhook } from 'standardwebhooks';
import { jsonOf, newAccountWithKey, TEST_SECRET } from '../../../test/helpers/api.ts';
import { CORPUS } from '../../../test/helpers/corpus.ts';
import { freshDatabase } from '../../../test/helpers/db.ts';
import { startServer } from '../../../test/helpers/http.ts';
import { startPipeline } from '../../../test/helpers/pipeline.ts';
import { startReceiver } from '../../../test/helpers/receiver.ts';

const LIMITS = { maxInputPixels: 100_000_000, maxFrames: 500, maxOutputSide: 4096, decodeTimeoutMs: 30_000 };
const read = (p: string) => readFile(path.join(CORPUS, p));

test('every operation × output format, checked by decoding the result', async () => {
  const photo = await read('orientation/Landscape_1.jpg'); // 1800×1200
  const expected: Record<string, [number, number]> = {
    resize: [300, 300],
    thumbnail: [300, 200],
    cover: [300, 300],
    convert: [1800, 1200],
  };
  for (const operation of OPERATIONS) {
    for (const format of OUTPUT_FORMATS) {
      const out = await transformImage(
        photo,
        { operation, width: 300, height: 300, format, gravity: 'attention' },
        LIMITS,
      );
      const meta = await sharp(out.data).metadata();
      assert.equal(meta.format === 'heif' ? 'avif' : meta.format, format, `${operation} ${format}`);
      assert.deepEqual([meta.width, meta.height], expected[operation], `${operation} ${format}`);
      assert.deepEqual([out.width, out.height], expected[operation]);
    }
  }
  const small = await transformImage(photo, { operation: 'thumbnail', width: 5000 }, LIMITS).catch((e) => e);
  assert.equal(small.code, 'output_too_large');
  const noEnlarge = await transformImage(
    await read('camera-exif/Canon_40D.jpg'),
    { operation: 'thumbnail', width: 1000 },
    LIMITS,
  );
  assert.equal(noEnlarge.width, 100, 'never enlarged unless asked');
  const enlarged = await transformImage(
    await read('camera-exif/Canon_40D.jpg'),
    { operation: 'thumbnail', width: 1000, enlarge: true },
    LIMITS,
  );
  assert.equal(enlarged.width, 1000);
});

test('all 8 EXIF orientations come out upright', async () => {
  const hashOf = async (file: string) => {
    const out = await transformImage(
      await read(file),
      { operation: 'thumbnail', width: 240, format: 'png' },
      LIMITS,
    );
    const { data, info } = await sharp(out.data).raw().toBuffer({ resolveWithObject: true });
    return {
      hash: dhash(
        toPillowGrey({ data, width: info.width, height: info.height, channels: info.channels as 3 }),
        info.width,
        info.height,
      ),
      w: info.width,
      h: info.height,
    };
  };
  const upright = await hashOf('orientation/Landscape_1.jpg');
  for (let i = 2; i <= 8; i++) {
    const r = await hashOf(`orientation/Landscape_${i}.jpg`);
    assert.deepEqual([r.w, r.h], [upright.w, upright.h], `Landscape_${i}`);
    assert.ok(
      hammingDistance(r.hash, upright.hash) <= 4,
      `Landscape_${i} differs by ${hammingDistance(r.hash, upright.hash)} bits`,
    );
  }
  const exifStripped = await sharp(
    (
      await transformImage(
        await read('orientation/Landscape_6.jpg'),
        { operation: 'convert', format: 'jpeg' },
        LIMITS,
      )
    ).data,
  ).metadata();
  assert.equal(exifStripped.orientation, undefined, 'metadata stripped by default');
});

test('animated input stays animated when the output format allows', async () => {
  const gif = await read('animated/gif/rotating-squares.gif').catch(() => undefined);
  const source = gif ?? (await read('malformed/generated/gif_truncated_50pct.gif'));
  for (const format of ['gif', 'webp'] as const) {
    const out = await transformImage(source, { operation: 'thumbnail', width: 64, format }, LIMITS);
    const meta = await sharp(out.data, { animated: true }).metadata();
    assert.ok((meta.pages ?? 1) > 1, `${format} keeps its frames`);
    assert.ok(out.animated);
  }
  const still = await transformImage(source, { operation: 'thumbnail', width: 64, format: 'jpeg' }, LIMITS);
  assert.equal(still.animated, false);
});

test('jobs, variants and signed URLs through the API', async (t) => {
  const db = await freshDatabase();
  const p = await startPipeline(db.pool, db.url, { WEBHOOK_RETRY_SCHEDULE: '0' });
  const { auth, account } = await newAccountWithKey(db.pool);
  const receiver = await startReceiver();
  const photo = await read('camera-exif/Canon_PowerShot_S40.jpg'); // 480×360
  const created = await jsonOf(
    await fetch(`${p.api.base}/v1/images?variants=thumbnail,medium`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'image/jpeg' },
      body: photo,
    }),
  );
  await p.settle([created.id]);
  const image = await jsonOf(await fetch(`${p.api.base}/v1/images/${created.id}`, { headers: auth }));

  await t.test('variants are rendered, listed and served', async () => {
    assert.deepEqual(Object.keys(image.variants).sort(), ['medium', 'thumbnail']);
    assert.equal(image.variants.thumbnail.width, 100);
    assert.equal(image.variants.medium.width, 480, 'a 500 preset does not enlarge a 480 px image');
    const res = await fetch(`${p.api.base}${image.variants.thumbnail.url}`, { headers: auth });
    assert.equal(res.status, 200);
    assert.equal((await sharp(Buffer.from(await res.arrayBuffer())).metadata()).width, 100);
    assert.equal(
      (await fetch(`${p.api.base}/v1/images/${image.id}/variants/large`, { headers: auth })).status,
      404,
    );
  });

  await t.test('a job by image_id, by image_data and by url; download; job.completed webhook', async () => {
    const post = (body: object) =>
      fetch(`${p.api.base}/v1/jobs`, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
    const byId = await post({
      image_id: image.id,
      operation: 'cover',
      width: 200,
      height: 200,
      output_format: 'webp',
      fit: 'attention',
      webhook_url: receiver.url,
      passthrough: { order: 7 },
      watermark: { text: 'imgkit', opacity: 0.5, position: 'southeast' },
    });
    assert.equal(byId.status, 202);
    const accepted = await jsonOf(byId);
    assert.equal(accepted.status, 'pending');
    assert.match(accepted.job_id, /^job_/);
    const byData = await jsonOf(
      await post({
        image_data: photo.toString('base64'),
        operation: 'resize',
        width: 64,
        height: 32,
        output_format: 'png',
      }),
    );
    const source = await startServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'image/jpeg' }).end(photo),
    );
    const byUrl = await jsonOf(
      await post({ url: `${source.url}/photo.jpg`, operation: 'convert', output_format: 'avif' }),
    );
    const refused = await jsonOf(
      await post({
        url: `${p.api.base}/v1/images/${image.id}/original`,
        operation: 'convert',
        output_format: 'avif',
      }),
    );
    const wait = async (id: string) => {
      for (;;) {
        const job = await jsonOf(await fetch(`${p.api.base}/v1/jobs/${id}`, { headers: auth }));
        if (job.status === 'completed' || job.status === 'failed') return job;
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const done = await wait(accepted.job_id);
    assert.equal(done.status, 'completed', JSON.stringify(done.error));
    assert.deepEqual([done.output.width, done.output.height, done.output.format], [200, 200, 'webp']);
    const download = await fetch(`${p.api.base}${done.output.download_url}`, { headers: auth });
    assert.equal(download.headers.get('content-type'), 'image/webp');
    assert.match(download.headers.get('content-disposition') ?? '', /attachment; filename="job_.*\.webp"/);
    assert.ok(download.headers.get('etag'));
    const meta = await sharp(Buffer.from(await download.arrayBuffer())).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['webp', 200, 200]);
    const data = await wait(byData.job_id);
    assert.deepEqual([data.output.width, data.output.height, data.output.format], [64, 32, 'png']);
    const url = await wait(byUrl.job_id);
    assert.equal(url.status, 'completed', JSON.stringify(url.error));
    assert.deepEqual([url.output.width, url.output.height, url.output.format], [480, 360, 'avif']);
    // The /original route needs an API key, so that download is refused: a clear failure, not a hang.
    const failed = await wait(refused.job_id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error.code, 'source_http_error');
    await new Promise((r) => setTimeout(r, 300));
    const hook = receiver.received.find((r) => r.body.includes(accepted.job_id));
    assert.ok(hook, 'job.completed delivered');
    const payload = new Webhook(account.webhook_secret).verify(
      hook.body,
      hook.headers as Record<string, string>,
    ) as { type: string };
    assert.equal(payload.type, 'job.completed');
    assert.ok(hook.body.endsWith('"passthrough":{"order":7}}}'));
  });

  await t.test('jobs refuse oversize output and bombs with clear problems', async () => {
    const big = await fetch(`${p.api.base}/v1/jobs`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ image_id: image.id, operation: 'thumbnail', width: 10_000 }),
    });
    assert.equal(big.status, 400);
    assert.equal((await jsonOf(big)).errors[0].field, 'width');
    const bomb = await read('bombs/png_16383x16383_8bit_gray.png');
    const job = await jsonOf(
      await fetch(`${p.api.base}/v1/jobs`, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/json' },
        body: JSON.stringify({ image_data: bomb.toString('base64'), operation: 'thumbnail', width: 100 }),
      }),
    );
    for (;;) {
      const j = await jsonOf(await fetch(`${p.api.base}/v1/jobs/${job.job_id}`, { headers: auth }));
      if (j.status === 'failed') {
        assert.equal(j.error.code, 'image_too_large');
        break;
      }
      assert.notEqual(j.status, 'completed');
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  await t.test(
    'signed URLs: headers, 304 without decoding, one render for concurrent misses, cache hits',
    async () => {
      const urls = await jsonOf(
        await fetch(`${p.api.base}/v1/images/${image.id}/urls`, {
          method: 'POST',
          headers: { ...auth, 'Content-Type': 'application/json' },
          body: JSON.stringify({ urls: [{ width: 200, height: 200, fit: 'cover', format: 'webp' }] }),
        }),
      );
      const url = `${p.api.base}${urls.urls[0].url}`;
      assert.match(urls.urls[0].url, /^\/i\/[A-Za-z0-9_-]{43}\/k:1,w:200,h:200,fit:cover\/img_\w+\.webp$/);
      const before = p.api.renders.count;
      const [a, b] = await Promise.all([fetch(url), fetch(url)]);
      assert.equal(p.api.renders.count - before, 1, 'two concurrent cold requests render once');
      for (const r of [a, b]) {
        assert.equal(r.status, 200);
        assert.equal(r.headers.get('cache-control'), 'public, max-age=31536000, immutable');
        assert.equal(r.headers.get('content-type'), 'image/webp');
      }
      const etag = a.headers.get('etag')!;
      assert.match(etag, /^"[0-9a-f]{40}"$/);
      const meta = await sharp(Buffer.from(await a.arrayBuffer())).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ['webp', 200, 200]);
      await new Promise((r) => setTimeout(r, 100));
      const hit = await fetch(url);
      assert.equal(hit.headers.get('x-cache'), 'HIT');
      assert.equal(hit.headers.get('etag'), etag);
      const notModified = await fetch(url, { headers: { 'If-None-Match': etag } });
      assert.equal(notModified.status, 304);
      assert.equal(p.api.renders.count - before, 1, '304 and cache hits do not decode');
    },
  );

  await t.test(
    'any changed byte of signature, options, id or extension → 403; expired → 410; old keys still work',
    async () => {
      const path0 = signPath(TEST_SECRET, { keyId: '1', width: 50 }, image.id, 'png');
      assert.equal((await fetch(`${p.api.base}${path0}`)).status, 200);
      const [, , sig, opts, file] = path0.split('/');
      const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
      const variants = [
        `/i/${flip(sig, 5)}/${opts}/${file}`,
        `/i/${sig}/${opts.replace('w:50', 'w:51')}/${file}`,
        `/i/${sig}/${opts}/${flip(file, 10)}`,
        `/i/${sig}/${opts}/${file.replace('.png', '.jpg')}`,
        `/i/${sig}/w:50,k:1/${file}`,
        `/i/${sig.slice(1)}/${opts}/${file}`,
      ];
      const before = p.api.renders.count;
      for (const v of variants) assert.equal((await fetch(`${p.api.base}${v}`)).status, 403, v);
      const expired = signPath(
        TEST_SECRET,
        { keyId: '1', width: 50, expires: Math.floor(Date.now() / 1000) - 10 },
        image.id,
        'png',
      );
      const gone = await fetch(`${p.api.base}${expired}`);
      assert.equal(gone.status, 410);
      assert.equal((await jsonOf(gone)).code, 'url_expired');
      assert.equal(p.api.renders.count, before, 'refused without decoding');
      const old = signPath(`${TEST_SECRET}-old`, { keyId: 'old', width: 40 }, image.id, 'jpg');
      assert.equal(
        (await fetch(`${p.api.base}${old}`)).status,
        200,
        'a URL signed with a rotated-out key still works',
      );
      const tooBig = signPath(TEST_SECRET, { keyId: '1', width: 9000 }, image.id, 'png');
      assert.equal((await fetch(`${p.api.base}${tooBig}`)).status, 400);
    },
  );
});

test('similar: near-duplicates by pHash, nearest first, same account only', {}, async () => {
  const db = await freshDatabase();
  const p = await startPipeline(db.pool, db.url);
  const { auth } = await newAccountWithKey(db.pool);
  const other = await newAccountWithKey(db.pool);
  const post = async (file: string, headers = auth) =>
    jsonOf(
      await fetch(`${p.api.base}/v1/images`, {
        method: 'POST',
        headers: { ...headers, 'Content-Type': 'image/jpeg' },
        body: await read(file),
      }),
    );
  const upright = await post('orientation/Landscape_1.jpg');
  const rotated = await post('orientation/Landscape_6.jpg');
  const unrelated = await post('camera-exif/Canon_40D.jpg');
  const foreign = await post('orientation/Landscape_3.jpg', other.auth);
  await p.settle([upright.id, rotated.id, unrelated.id, foreign.id]);
  const similar = await jsonOf(
    await fetch(`${p.api.base}/v1/images/${upright.id}/similar`, { headers: auth }),
  );
  assert.deepEqual(
    similar.data.map((d: { image: { id: string } }) => d.image.id),
    [rotated.id],
    'the rotated twin, not the unrelated photo nor another account’s copy',
  );
  assert.equal(similar.data[0].distance, 0);
  const wide = await jsonOf(
    await fetch(`${p.api.base}/v1/images/${upright.id}/similar?max_distance=64`, { headers: auth }),
  );
  assert.equal(wide.data.length, 2);
  assert.ok(wide.data[0].distance <= wide.data[1].distance);

  // Both hashes: the rotated twin is within 0 bits on each.
  const both = await jsonOf(
    await fetch(`${p.api.base}/v1/images/${upright.id}/similar?hash=both&max_distance=4`, { headers: auth }),
  );
  assert.equal(both.hash, 'both');
  assert.deepEqual(
    both.data.map((d: { image: { id: string }; phash_distance: number; dhash_distance: number }) => [
      d.image.id,
      d.phash_distance,
      d.dhash_distance,
    ]),
    [[rotated.id, 0, 0]],
  );
  const bad = await fetch(`${p.api.base}/v1/images/${upright.id}/similar?hash=ahash`, { headers: auth });
  assert.equal(bad.status, 400);

  // On ingest, an image is compared with the images completed before it: the twins were processed
  // side by side, so each may or may not name the other — but whatever they name is the twin.
  for (const [self, twin] of [
    [upright.id, rotated.id],
    [rotated.id, upright.id],
  ]) {
    const record = await jsonOf(await fetch(`${p.api.base}/v1/images/${self}`, { headers: auth }));
    if (record.duplicates.nearest) assert.equal(record.duplicates.nearest.id, twin);
  }
  // Uploaded after both completed: the same bytes are an exact duplicate and a distance-0 twin.
  const again = await jsonOf(
    await fetch(`${p.api.base}/v1/images?webhook_url=${encodeURIComponent('http://127.0.0.1:9/hook')}`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'image/jpeg' },
      body: await read('orientation/Landscape_1.jpg'),
    }),
  );
  await p.settle([again.id]);
  const copy = await jsonOf(await fetch(`${p.api.base}/v1/images/${again.id}`, { headers: auth }));
  assert.deepEqual(copy.duplicates.exact, [upright.id]);
  assert.equal(copy.duplicates.nearest.phash_distance, 0);
  assert.equal(copy.hash_degenerate, false);
  const { rows } = await db.pool.query(
    "SELECT payload FROM webhook_messages WHERE image_id = $1 AND event_type = 'image.completed'",
    [again.id],
  );
  assert.equal(rows.length, 1, 'one image.completed message');
  assert.deepEqual(
    JSON.parse(rows[0].payload).data.duplicates.exact,
    [upright.id],
    rows[0].payload.slice(0, 300),
  );
});
