import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { canonIso, jsonSafe, printExposureTime, printFraction, toExiftoolRecord, toGps } from '@imgkit/media';
import sharp from 'sharp';
import { REPO_CORPUS } from '../../../test/helpers/corpus.ts';

test('exposure times and fractions print as exiftool prints them', () => {
  assert.equal(printExposureTime(1 / 250), '1/250');
  assert.equal(printExposureTime(0.25), '1/4');
  assert.equal(printExposureTime(2), '2');
  assert.equal(printExposureTime(1.5), '1.5');
  assert.equal(printFraction(0), '0');
  assert.equal(printFraction(-2 / 3), '-2/3');
  assert.equal(printFraction(0.5), '+1/2');
  assert.equal(printFraction(1), '+1');
});

test('tags are renamed and converted; maker notes and offsets are dropped', () => {
  const record = toExiftoolRecord({
    ifd0: { Make: 'Canon', Orientation: 6 },
    exif: { Flash: 16, ExposureTime: 0.004, MakerNote: new Uint8Array(10) },
  }) as Record<string, unknown>;
  assert.equal(record.Make, 'Canon');
  assert.equal(record.Orientation, 'Rotate 90 CW');
  assert.equal(record.Flash, 'Off, Did not fire');
  assert.equal(record.ExposureTime, '1/250');
  assert.equal('MakerNote' in record, false);
});

test('GPS: signed decimal degrees from DMS and refs; nonsense is null', () => {
  assert.deepEqual(
    toGps({
      GPSLatitude: [52, 30, 0],
      GPSLatitudeRef: 'S',
      GPSLongitude: [13, 15, 36],
      GPSLongitudeRef: 'W',
      GPSAltitude: 12.5,
      GPSAltitudeRef: new Uint8Array([1]),
    }),
    { latitude: -52.5, longitude: -13.26, altitude: -12.5 },
  );
  assert.equal(toGps({ GPSLatitude: [100, 0, 0], GPSLongitude: [0, 0, 0] }), null);
  assert.equal(toGps(undefined), null);
});

test('jsonSafe describes binary, drops NULs, and bounds depth and length', () => {
  assert.deepEqual(jsonSafe({ a: new Uint8Array(3), b: 'x\0y', c: [1, Number.NaN] }), {
    a: '(Binary data 3 bytes)',
    b: 'xy',
    c: [1, undefined],
  });
  let deep: Record<string, unknown> = { leaf: 1 };
  for (let i = 0; i < 50; i++) deep = { deep };
  assert.ok(JSON.stringify(jsonSafe(deep)).length < 400);
  assert.equal((jsonSafe(Array.from({ length: 5000 }, (_, i) => i)) as unknown[]).length, 1000);
});

test('ISO from Canon maker notes where EXIF has none (exiftool Composite:ISO); hostile blocks never throw', async () => {
  const tiffOf = async (file: string) => {
    const exif = (await sharp(path.join(REPO_CORPUS, file)).metadata()).exif!;
    return exif.subarray(6); // after "Exif\0\0"
  };
  // CameraISO "Auto": BaseISO 50 × AutoISO 100 / 100; CameraISO numeric: itself.
  assert.equal(canonIso(await tiffOf('camera-exif/Canon_DIGITAL_IXUS_400.jpg')), 50);
  assert.equal(canonIso(await tiffOf('camera-exif/Canon_PowerShot_S40.jpg')), 100);
  const tiff = await tiffOf('camera-exif/Canon_DIGITAL_IXUS_400.jpg');
  // Every truncation, and bytes flipped everywhere: an answer or undefined, never a throw.
  for (let n = 0; n <= tiff.length; n += 7) canonIso(tiff.subarray(0, n));
  for (let i = 0; i < tiff.length; i += 3) {
    const hostile = Buffer.from(tiff);
    hostile[i] ^= 0xff;
    const iso = canonIso(hostile);
    assert.ok(iso === undefined || Number.isFinite(iso));
  }
});
