import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, test } from 'node:test';
import { extractImage, MediaError } from '@imgkit/media';
import { MediaPool, PixelBudget } from '@imgkit/media-pool';
import { CORPUS } from '../../../test/helpers/corpus.ts';

const limits = { maxInputPixels: 300_000_000, maxFrames: 100, maxOutputSide: 4096, decodeTimeoutMs: 60_000 };
const read = (p: string) => readFile(path.join(CORPUS, p));

function pool(o: Partial<ConstructorParameters<typeof MediaPool>[0]> = {}) {
  const p = new MediaPool({
    limits,
    threads: 2,
    heapMb: 256,
    pixelBudget: 400_000_000,
    callTimeoutMs: 60_000,
    ...o,
  });
  after(() => p.close());
  return p;
}

test('extraction in a thread gives what extraction in the process gives, with the variants rendered', async () => {
  const bytes = await read('camera-exif/Canon_40D.jpg');
  const p = pool();
  const out = await p.processImage(bytes, { metadata: true, variants: [{ name: 'thumbnail', width: 50 }] });
  const local = await extractImage(bytes, limits);
  assert.deepEqual(out.extracted, local);
  assert.equal(out.variants[0].rendered.width, 50);
  assert.ok(Buffer.isBuffer(out.variants[0].rendered.data));
  await assert.rejects(
    p.processImage(Buffer.from('not an image'), { metadata: true, variants: [] }),
    (err: unknown) => err instanceof MediaError && err.code === 'not_an_image',
  );
});

test('a call past its deadline ends as processing_timeout, the main loop never stalls, and the pool serves on', async () => {
  const bomb = await read('bombs/png_16383x16383_8bit_gray.png'); // 268 Mpx of real data: seconds of decoding
  const p = pool({ callTimeoutMs: 1500 });
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  await assert.rejects(
    p.processImage(bomb, { metadata: true, variants: [] }),
    (err: unknown) => err instanceof MediaError && err.code === 'processing_timeout',
  );
  delay.disable();
  assert.ok(delay.percentile(99) / 1e6 < 100, `event loop p99 ${delay.percentile(99) / 1e6} ms`);
  const small = await p.processImage(await read('camera-exif/Canon_40D.jpg'), {
    metadata: false,
    variants: [],
  });
  assert.equal(small.extracted.width, 100);
});

test('the pixel budget admits decodes only while they fit', async () => {
  const budget = new PixelBudget(100);
  const a = await budget.acquire(60);
  let admitted = false;
  const b = budget.acquire(60).then((release) => {
    admitted = true;
    return release;
  });
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(admitted, false, 'waits while 60 + 60 > 100');
  a();
  (await b)();
  assert.equal(admitted, true);
  assert.equal(budget.inUse, 0);
  const huge = await budget.acquire(1000); // larger than the whole budget: admitted alone
  assert.equal(budget.inUse, 100);
  huge();
});
