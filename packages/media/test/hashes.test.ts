import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { dhash, hammingDistance, hashesOfPixels, phash, phashAndDhash, toPillowGrey } from '@imgkit/media';
import sharp from 'sharp';
import { CORPUS } from '../../../test/helpers/corpus.ts';
import { dct2d } from '../src/pocketfft.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');

/** Python's float.hex() back to the same double. */
function fromHex(h: string): number {
  const m = /^(-?)0x([01])\.([0-9a-f]+)p([+-]\d+)$/.exec(h);
  if (!m) throw new Error(`not a float.hex value: ${h}`);
  const value = Number(BigInt(`0x${m[2]}${m[3]}`)) * 2 ** (Number(m[4]) - m[3].length * 4);
  return m[1] ? -value : value;
}

async function grey(file: string) {
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  const px = { data, width: info.width, height: info.height, channels: info.channels as 1 | 2 | 3 | 4 };
  return { grey: toPillowGrey(px), width: info.width, height: info.height };
}

test('pHash and dHash reproduce the imagehash reference vectors bit for bit', async () => {
  const vectors = JSON.parse(await readFile(path.join(CORPUS, 'hash-vectors/vectors.json'), 'utf8'))
    .images as Record<string, { phash: string; dhash: string }>;
  for (const [name, v] of Object.entries(vectors)) {
    const g = await grey(path.join(CORPUS, 'hash-vectors', name));
    assert.equal(phash(g.grey, g.width, g.height), v.phash, `${name} phash`);
    assert.equal(dhash(g.grey, g.width, g.height), v.dhash, `${name} dhash`);
  }
});

test('the 2-D DCT equals scipy.fftpack.dct to the last bit (test/hash-vectors/dct.json)', async () => {
  const { cases } = JSON.parse(
    await readFile(path.join(REPO_ROOT, 'test/hash-vectors/dct.json'), 'utf8'),
  ) as {
    cases: { kind: string; pixels: string; low: string[] }[];
  };
  assert.ok(cases.length >= 32);
  for (const [i, c] of cases.entries()) {
    const d = dct2d(Buffer.from(c.pixels, 'hex'), 32);
    const low: number[] = [];
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) low.push(d[y * 32 + x]);
    // Object.is: -0 and 0 are different bit patterns too.
    const differ = low.flatMap((v, j) => (Object.is(v, fromHex(c.low[j])) ? [] : [j]));
    assert.deepEqual(differ, [], `case ${i} (${c.kind}): terms ${differ.join(', ')} differ from scipy's`);
  }
});

test('Pillow greyscale: ITU-R 601-2 luma in fixed point; grey and grey+alpha pass through', () => {
  const rgb = toPillowGrey({
    data: new Uint8Array([255, 0, 0, 0, 255, 0, 0, 0, 255]),
    width: 3,
    height: 1,
    channels: 3,
  });
  assert.deepEqual([...rgb], [76, 150, 29]);
  const ga = toPillowGrey({ data: new Uint8Array([7, 0, 9, 255]), width: 2, height: 1, channels: 2 });
  assert.deepEqual([...ga], [7, 9]);
});

test('Hamming distance counts differing bits', () => {
  assert.equal(hammingDistance('0000000000000000', '0000000000000000'), 0);
  assert.equal(hammingDistance('0000000000000000', 'ffffffffffffffff'), 64);
  assert.equal(hammingDistance('8000000000000001', '0000000000000000'), 2);
});

test('hashesOfPixels (WebAssembly SIMD) equals the reference port on random images of every shape', () => {
  // Seeded, so a failure names a reproducible case.
  let seed = 20261130;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const shapes: [number, number][] = [
    [1, 1],
    [5, 3],
    [8, 40],
    [10, 9],
    [31, 33],
    [33, 31],
    [64, 64],
    [100, 7],
    [7, 300],
    [257, 129],
    [1001, 613],
    [3000, 40],
  ];
  let compared = 0;
  for (const [width, height] of shapes) {
    for (const channels of [1, 2, 3, 4] as const) {
      for (const kind of ['noise', 'two-level', 'flat'] as const) {
        const data = new Uint8Array(width * height * channels);
        const levels = [Math.floor(rand() * 256), Math.floor(rand() * 256)];
        for (let i = 0; i < data.length; i++) {
          data[i] =
            kind === 'noise'
              ? Math.floor(rand() * 256)
              : kind === 'flat'
                ? levels[0]
                : levels[rand() < 0.5 ? 0 : 1];
        }
        const px = { data, width, height, channels };
        const expected = phashAndDhash(toPillowGrey(px), width, height);
        assert.deepEqual(hashesOfPixels(px), expected, `${width}×${height}×${channels} ${kind}`);
        compared++;
      }
    }
  }
  assert.equal(compared, shapes.length * 12);
});
