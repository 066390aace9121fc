/**
 * Metadata that only XMP carries, against exiftool: `tiff:Orientation` when EXIF has none
 * (applied to the reported size, the hashes and every rendition, like an EXIF orientation) and
 * GPS in `exif:GPS…`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { extractImage, transformImage } from '@imgkit/media';
import sharp from 'sharp';
import { oracleTool } from '../../../test/helpers/tools.ts';

const run = promisify(execFile);
const exiftool = await oracleTool(['exiftool'], ['-ver']);
const LIMITS = { maxInputPixels: 100_000_000, maxFrames: 10, decodeTimeoutMs: 30_000, maxOutputSide: 4096 };

const xmp = (orientation: number) =>
  `<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:tiff="http://ns.adobe.com/tiff/1.0/" xmlns:exif="http://ns.adobe.com/exif/1.0/" tiff:Orientation="${orientation}" exif:GPSLatitude="48,51.396N" exif:GPSLongitude="2,17.652W" exif:GPSAltitude="3500/100" exif:GPSAltitudeRef="1"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>`;

/** A picture with structure (a red corner, a gradient), stored sideways with only XMP saying so. */
async function pictures() {
  const upright = await sharp({ create: { width: 80, height: 120, channels: 3, background: '#224466' } })
    .composite([
      { input: { create: { width: 20, height: 30, channels: 3, background: '#ff2200' } }, left: 0, top: 0 },
      { input: { create: { width: 40, height: 20, channels: 3, background: '#eeeeee' } }, left: 30, top: 90 },
    ])
    .png()
    .toBuffer();
  // Stored rotated 90° counter-clockwise: orientation 6 (rotate 90° clockwise to display).
  // Lossless, so the upright twin has exactly the same pixels.
  const stored = await sharp(upright).rotate(270).png().withXmp(xmp(6)).toBuffer();
  const twin = await sharp(upright).png().toBuffer();
  return { stored, twin };
}

test('XMP tiff:Orientation and XMP GPS, as exiftool reads them', { skip: exiftool.skip }, async () => {
  const { stored, twin } = await pictures();
  const file = path.join(await mkdtemp(path.join(tmpdir(), 'imgkit-xmp-')), 'xmp-only.png');
  await writeFile(file, stored);
  const [oracle] = JSON.parse((await run(exiftool.bin!, ['-j', '-n', file])).stdout);
  assert.equal(oracle.Orientation, 6);
  assert.equal(oracle.ExifByteOrder, undefined, 'no EXIF block: the orientation is XMP’s only');

  const x = await extractImage(stored, LIMITS);
  assert.equal(x.orientation, oracle.Orientation);
  assert.deepEqual([x.width, x.height], [oracle.ImageHeight, oracle.ImageWidth], 'the displayed size');
  assert.ok(x.gps);
  // exiftool -n prints the signed position (Composite tags): south, west and below are negative.
  assert.equal(x.gps.latitude, Number(Number(oracle.GPSLatitude).toFixed(8)));
  assert.equal(x.gps.longitude, Number(Number(oracle.GPSLongitude).toFixed(8)));
  assert.ok(x.gps.longitude < 0, 'west is negative');
  assert.equal(x.gps.altitude, Number(oracle.GPSAltitude));
  assert.ok(x.gps.altitude! < 0, 'below sea level');

  // The hashes and renditions are those of the upright picture.
  const t = await extractImage(twin, LIMITS);
  assert.equal(x.phash, t.phash);
  assert.equal(x.dhash, t.dhash);
  assert.deepEqual(x.palette, t.palette);
  const rendition = await transformImage(
    stored,
    { operation: 'thumbnail', width: 40, format: 'png' },
    LIMITS,
  );
  assert.deepEqual([rendition.width, rendition.height], [40, 60]);
  const { data, info } = await sharp(rendition.data).raw().toBuffer({ resolveWithObject: true });
  const at = (px: number, py: number) =>
    Array.from(
      data.subarray((py * info.width + px) * info.channels, (py * info.width + px) * info.channels + 3),
    );
  const [r, g, b] = at(3, 3);
  assert.ok(r > 200 && g < 80 && b < 80, `the red corner is top-left: ${[r, g, b]}`);
});

test('EXIF orientation wins over XMP’s when both are present', async () => {
  const { twin } = await pictures();
  const both = await sharp(twin).withMetadata({ orientation: 1 }).withXmp(xmp(6)).jpeg().toBuffer();
  const x = await extractImage(both, LIMITS);
  assert.equal(x.orientation, 1);
  assert.deepEqual([x.width, x.height], [80, 120]);
});
