import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, test } from 'node:test';
import { extractImage, MediaError } from '@imgkit/media';
import { MediaPool, PixelBudget } from '@imgkit/media-pool';
import sharp from 'sharp';
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

test("libvips' operation cache is off by default and sized by LIBVIPS_CACHE_MB otherwise", async () => {
  const bytes = await read('camera-exif/Canon_40D.jpg');
  const spec = { operation: 'cover', width: 64, height: 64 } as const;
  // The cache is one per process (libvips is loaded once): the threads' setting shows here too.
  // sharp resets it to its default (50 MB) whenever a thread loads it, and the thread's own
  // setting follows a moment later: a thread still starting (this pool's other one, or the
  // previous test's) can show the default for that moment, so the setting is awaited.
  const settled = async (memoryMax: number) => {
    for (let i = 0; i < 100 && sharp.cache().memory.max !== memoryMax; i++)
      await new Promise((r) => setTimeout(r, 50));
    return sharp.cache();
  };
  const off = pool();
  await Promise.all([off.transform(bytes, spec), off.transform(bytes, spec)]);
  const none = await settled(0);
  assert.equal(none.memory.max, 0);
  assert.equal(none.items.max, 0);
  assert.equal(none.memory.current, 0);
  await off.close();
  const on = pool({ libvipsCacheMb: 16 });
  await Promise.all([on.transform(bytes, spec), on.transform(bytes, spec)]);
  const some = await settled(16);
  assert.equal(some.memory.max, 16);
  assert.ok(some.items.current > 0, 'operations are kept when the cache is on');
});

test('a call past its deadline ends as processing_timeout, the main loop never stalls, and the pool serves on', async () => {
  const bomb = await read('bombs/png_16383x16383_8bit_gray.png'); // 268 Mpx of real data: seconds of decoding
  // As in production the decode's own timeout (here 2 s) stops the native work the deadline abandons.
  const p = pool({ callTimeoutMs: 1500, limits: { ...limits, decodeTimeoutMs: 2000 } });
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  await assert.rejects(
    p.processImage(bomb, { metadata: true, variants: [] }),
    (err: unknown) => err instanceof MediaError && err.code === 'processing_timeout',
  );
  delay.disable();
  // The stopped thread never released its 268 Mpx of the budget: the pool gave them back.
  assert.equal(p.pixelsInUse, 0, 'the stopped call’s share of the pixel budget is returned');
  assert.ok(delay.percentile(99) / 1e6 < 100, `event loop p99 ${delay.percentile(99) / 1e6} ms`);
  // The pool serves on with a new thread. Its start and the stopped call's native decode (which
  // libvips finishes on its own) share the machine with the rest of the test run, so under CI
  // load the first call after a timeout can itself pass the short deadline: a few tries.
  const canon = await read('camera-exif/Canon_40D.jpg');
  let small: Awaited<ReturnType<typeof p.processImage>> | undefined;
  for (let attempt = 1; !small; attempt++) {
    try {
      small = await p.processImage(canon, { metadata: false, variants: [] });
    } catch (err) {
      if (!(err instanceof MediaError && err.code === 'processing_timeout') || attempt >= 5) throw err;
    }
  }
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
  // A call's share recorded under its slot is given back once, by whichever side comes first.
  const held = await budget.acquire(70, 7);
  assert.equal(budget.reclaim(7), 70);
  assert.equal(budget.inUse, 0);
  held();
  assert.equal(budget.reclaim(7), 0);
  assert.equal(budget.inUse, 0, 'no double release');
});

test('calls sharing a thread: one past its deadline is stopped with its thread, and a call that thread was also running runs again elsewhere', async () => {
  const bomb = await read('bombs/png_16383x16383_8bit_gray.png'); // 268 Mpx: seconds of decoding
  const photo = await sharp({ create: { width: 2000, height: 2000, channels: 3, background: '#3a6' } })
    .jpeg()
    .toBuffer();
  // The budget fits the bomb and not the photo beside it: the photo's call starts on the same
  // thread and waits there for pixels until the bomb's deadline stops that thread.
  const p = pool({
    threads: 1,
    callsPerThread: 3,
    pixelBudget: 270_000_000,
    callTimeoutMs: 1500,
    limits: { ...limits, decodeTimeoutMs: 2000 },
  });
  // The thread started and its modules loaded first: on a machine busy with other test files a
  // thread's start can take longer than the bomb's deadline, and the bomb would then be given up
  // before it ever ran (and, before this warm-up, the wait below never ended).
  for (let attempt = 1; ; attempt++) {
    try {
      await p.transform(photo, { operation: 'cover', width: 8, height: 8 });
      break;
    } catch (err) {
      if (!(err instanceof MediaError && err.code === 'processing_timeout') || attempt >= 5) throw err;
    }
  }
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const bombed = p.processImage(bomb, { metadata: true, variants: [] });
  let bombSettled = false;
  bombed.then(
    () => {
      bombSettled = true;
    },
    () => {
      bombSettled = true;
    },
  );
  while (p.pixelsInUse === 0 && !bombSettled) await new Promise((r) => setTimeout(r, 5));
  assert.ok(p.pixelsInUse > 0, 'the bomb was decoding when its neighbour arrived');
  const neighbour = p.transform(photo, { operation: 'cover', width: 64, height: 64 });
  await assert.rejects(
    bombed,
    (err: unknown) => err instanceof MediaError && err.code === 'processing_timeout',
  );
  // The neighbour runs again on the thread that replaces the stopped one. Its new deadline is as
  // short as the bomb's, and that thread's start shares the machine with the bomb's abandoned
  // native decode (libvips stops it at 2 s) and, in CI, other test files: the re-run may itself
  // pass the deadline. What it must never be is a crash blamed on the neighbour.
  const outcome = await neighbour.then(
    (r) => r.width,
    (err: unknown) => (err instanceof MediaError ? err.code : String(err)),
  );
  delay.disable();
  assert.ok(outcome === 64 || outcome === 'processing_timeout', `the neighbour ended ${outcome}`);
  assert.equal(p.pixelsInUse, 0, 'the stopped calls’ shares of the pixel budget are returned');
  assert.ok(delay.percentile(99) / 1e6 < 100, `event loop p99 ${delay.percentile(99) / 1e6} ms`);
  // Several calls at once on the one thread, all served (a few tries for a loaded machine, as above).
  const canon = await read('camera-exif/Canon_40D.jpg');
  const many = await Promise.all(
    Array.from({ length: 6 }, async (_, i) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await p.transform(canon, { operation: 'cover', width: 20 + i, height: 20 });
        } catch (err) {
          if (!(err instanceof MediaError && err.code === 'processing_timeout') || attempt >= 5) throw err;
        }
      }
    }),
  );
  assert.deepEqual(
    many.map((r) => r.width),
    [20, 21, 22, 23, 24, 25],
  );
});

test('a pool closed with calls in flight on shared threads fails them at once, it does not run them again', async () => {
  const photo = await sharp({ create: { width: 3000, height: 2000, channels: 3, background: '#a63' } })
    .jpeg()
    .toBuffer();
  const p = pool({ threads: 1, callsPerThread: 3, callTimeoutMs: 60_000 });
  const calls = Array.from({ length: 6 }, (_, i) =>
    p.transform(photo, { operation: 'cover', width: 30 + i, height: 30 }).then(
      () => 'rendered',
      (err: unknown) => (err instanceof MediaError ? err.code : String(err)),
    ),
  );
  await p.close();
  // Before the fix, a closing pool's calls were taken for calls stopped under others and run
  // again in a loop until their deadline (60 s here): processing_timeout, a core busy meanwhile.
  for (const outcome of await Promise.all(calls)) {
    assert.ok(outcome === 'rendered' || outcome === 'processing_crashed', `a call ended ${outcome}`);
  }
});

test("a file's header is read again once the file changes, so the pixel limit sees the new one", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'imgkit-headers-'));
  const file = path.join(dir, 'original');
  const photo = (side: number) =>
    sharp({ create: { width: side, height: side, channels: 3, background: '#357' } })
      .jpeg()
      .toBuffer();
  const p = pool({ threads: 1, limits: { ...limits, maxInputPixels: 1_000_000 } });
  const spec = { operation: 'cover', width: 40, height: 40 } as const;
  await writeFile(file, await photo(800)); // 0.64 MP: within the limit
  assert.equal((await p.transform({ path: file }, spec)).width, 40);
  assert.equal((await p.transform({ path: file }, spec)).width, 40, 'rendered again from the kept header');
  // Rewritten in place (same inode): 1.44 MP. A header kept from before would admit it, and
  // libvips' own limit would fail it as decode_failed instead.
  await writeFile(file, await photo(1200));
  await assert.rejects(
    p.transform({ path: file }, spec),
    (err: unknown) => err instanceof MediaError && err.code === 'image_too_large',
  );
  // Replaced by another file (a new inode) within the limit again.
  await writeFile(`${file}.new`, await photo(600));
  await rename(`${file}.new`, file);
  assert.equal((await p.transform({ path: file }, spec)).width, 40);
});

test('an orientation only XMP gives is applied on every render of a file, not only the first', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'imgkit-headers-xmp-'));
  const file = path.join(dir, 'original');
  const xmp = `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>`;
  // Stored 120 × 80; displayed rotated 90°: 80 × 120.
  await writeFile(
    file,
    await sharp({ create: { width: 120, height: 80, channels: 3, background: '#468' } })
      .png()
      .withXmp(xmp)
      .toBuffer(),
  );
  const p = pool({ threads: 1 });
  for (let i = 0; i < 3; i++) {
    const out = await p.transform({ path: file }, { operation: 'convert', format: 'png' });
    assert.deepEqual([out.width, out.height], [80, 120], `render ${i + 1}`);
  }
});

test('a rendering saved by its thread is complete at its path before the call returns; a failed save is only reported', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'imgkit-save-'));
  const photo = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#a63' } })
    .jpeg()
    .toBuffer();
  const p = pool({ threads: 1 });
  const spec = { operation: 'cover', width: 30, height: 30 } as const;
  const saveTo = { tmp: path.join(dir, '.tmp', 'x1'), file: path.join(dir, 'ab', 'abcdef') };
  const out = await p.transform(photo, spec, { saveTo });
  assert.equal(out.saved, true);
  assert.deepEqual(await readFile(saveTo.file), out.data);
  assert.deepEqual(await readdir(path.join(dir, '.tmp')), [], 'the temp file was renamed');
  // A directory that cannot be made (a file is in the way): rendered all the same, not saved.
  await writeFile(path.join(dir, 'blocker'), 'a file');
  const blocked = { tmp: path.join(dir, 'blocker', 'x2'), file: path.join(dir, 'blocker', 'cd', 'x') };
  const again = await p.transform(photo, spec, { saveTo: blocked });
  assert.equal(again.saved, false);
  assert.equal(again.width, 30);
  assert.equal((await p.transform(photo, spec)).saved, false, 'nothing asked, nothing saved');
});

test('renders sharing a thread read their originals into separate buffers: each comes out of its own file', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'imgkit-originals-pool-'));
  const colours = ['#c01010', '#10c010', '#1010c0', '#c0c010', '#10c0c0', '#c010c0'];
  const files = await Promise.all(
    colours.map(async (background, i) => {
      const file = path.join(dir, `o${i}`);
      // Different sizes, so buffers are both reused and replaced.
      const side = 300 + 150 * i;
      await writeFile(
        file,
        await sharp({ create: { width: side, height: side, channels: 3, background } })
          .jpeg()
          .toBuffer(),
      );
      return file;
    }),
  );
  // Over the 1 MB this pool reads whole (MEDIA_READ_WHOLE_MB): rendered by path (a JPEG, then padding).
  const large = path.join(dir, 'large');
  const jpeg = await sharp({ create: { width: 200, height: 200, channels: 3, background: '#808080' } })
    .jpeg()
    .toBuffer();
  await writeFile(large, Buffer.concat([jpeg, Buffer.alloc(2 * 1024 * 1024)]));
  const p = pool({ threads: 1, callsPerThread: 3, readWholeMb: 1 });
  const spec = { operation: 'cover', width: 16, height: 16, format: 'png' } as const;
  const mean = async (data: Uint8Array) =>
    (await sharp(data).stats()).channels.slice(0, 3).map((c) => Math.round(c.mean));
  for (let round = 0; round < 3; round++) {
    const order = files.map((_, i) => (i * 5 + round) % files.length);
    const outs = await Promise.all(order.map((i) => p.transform({ path: files[i] }, spec)));
    for (const [k, out] of outs.entries()) {
      const expected = await mean(await sharp(files[order[k]]).resize(16, 16).png().toBuffer());
      const got = await mean(out.data);
      assert.ok(
        got.every((v, c) => Math.abs(v - expected[c]) <= 3),
        `round ${round}, file ${order[k]}: ${got} against ${expected}`,
      );
    }
  }
  const out = await p.transform({ path: large }, spec);
  const grey = await mean(out.data);
  assert.ok(
    grey.every((v) => Math.abs(v - 128) <= 2),
    `the large file: ${grey}`,
  );
  // Reading whole turned off: every file by path, the same renderings.
  const byPath = pool({ threads: 1, callsPerThread: 3, readWholeMb: 0 });
  const outs = await Promise.all(files.map((f) => byPath.transform({ path: f }, spec)));
  for (const [i, o] of outs.entries()) {
    const expected = await mean(await sharp(files[i]).resize(16, 16).png().toBuffer());
    assert.ok(
      (await mean(o.data)).every((v, c) => Math.abs(v - expected[c]) <= 3),
      `by path, file ${i}`,
    );
  }
});
