import assert from 'node:assert/strict';
import { test } from 'node:test';
import { blurhashOf, dominantColors } from '@imgkit/media';
import { decode, encode } from 'blurhash';

/** A 16×8 image: left half pure red, right half pure blue, 3 channels. */
function halves(): Uint8Array {
  const px = new Uint8Array(16 * 8 * 3);
  for (let y = 0; y < 8; y++)
    for (let x = 0; x < 16; x++) px.set(x < 8 ? [255, 0, 0] : [0, 0, 255], (y * 16 + x) * 3);
  return px;
}

test('the palette finds both colours with their weights, deterministically', () => {
  const palette = dominantColors(halves(), 3);
  const colors = Object.fromEntries(palette.map((p) => [p.color, p.weight]));
  assert.deepEqual(Object.keys(colors).sort(), ['#0000ff', '#ff0000']);
  assert.ok(Math.abs(colors['#ff0000'] - 0.5) < 1e-9);
  assert.deepEqual(dominantColors(halves(), 3), palette);
  assert.deepEqual(dominantColors(new Uint8Array([0, 0, 0, 0]), 4), [], 'transparent pixels have no colour');
});

test('the placeholder is the reference BlurHash of the RGBA pixels, whatever the channel count', () => {
  const rgb = halves();
  const rgba = new Uint8ClampedArray(16 * 8 * 4);
  for (let i = 0; i < 16 * 8; i++) rgba.set([rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2], 255], i * 4);
  const hash = blurhashOf(rgb, 16, 8, 3);
  assert.equal(hash, encode(rgba, 16, 8, 4, 3));
  const pixels = decode(hash, 16, 8);
  const at = (x: number, c: number) => pixels[(4 * 16 + x) * 4 + c]; // row 4
  assert.ok(at(0, 0) > at(15, 0) + 50, 'left is redder');
  assert.ok(at(15, 2) > at(0, 2) + 50, 'right is bluer');
  const grey = blurhashOf(new Uint8Array(16 * 8).fill(128), 16, 8, 1);
  assert.equal(
    grey,
    encode(
      new Uint8ClampedArray(16 * 8 * 4).fill(128).map((v, i) => (i % 4 === 3 ? 255 : v)),
      16,
      8,
      4,
      3,
    ),
  );
});
