/**
 * GET /v1/images/:id/lightroom-preset on the corpus files that carry Camera Raw settings,
 * through the real api and worker; exiftool reads each preset back with the image's values.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { lightroomPreset } from '@imgkit/media';
import { jsonOf, newAccountWithKey } from '../helpers/api.ts';
import { CORPUS } from '../helpers/corpus.ts';
import { freshDatabase } from '../helpers/db.ts';
import { startPipeline } from '../helpers/pipeline.ts';
import { oracleTool } from '../helpers/tools.ts';

const run = promisify(execFile);
const exiftool = await oracleTool(['exiftool'], ['-ver']);

/** Files with develop settings, and what the preset must leave out of each. */
const WITH_SETTINGS = [
  'metadata/canon_209_tags_gps.jpg',
  'metadata/tiff_iptc_icc_xmp.tif',
  'camera-exif/Nikon_D70.jpg',
];
/** Tags exiftool reads from a preset that describe the preset, not the image. */
const PRESET_ONLY = new Set([
  'SourceFile',
  'PresetType',
  'Cluster',
  'UUID',
  'SupportsAmount',
  'SupportsColor',
  'SupportsMonochrome',
  'SupportsHighDynamicRange',
  'SupportsNormalDynamicRange',
  'SupportsSceneReferred',
  'SupportsOutputReferred',
  'CameraModelRestriction',
  'Copyright',
  'ContactInfo',
  'Name',
  'ShortName',
  'SortName',
  'Group',
  'HasSettings',
]);
const PER_IMAGE = [
  'RawFileName',
  'AlreadyApplied',
  'HasCrop',
  'CropTop',
  'CropLeft',
  'CropAngle',
  'RetouchInfo',
];

async function crsOf(file: string): Promise<Record<string, unknown>> {
  const { stdout } = await run('exiftool', ['-j', '-n', '-XMP-crs:all', '-Warning', '-Error', file]);
  return JSON.parse(stdout)[0];
}

function same(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    const [x, y] = [[a].flat(), [b].flat()];
    return x.length === y.length && x.every((v, i) => same(v, y[i]));
  }
  // exiftool prints "+7" for a value written 7, and 3.0 as 3: the same number.
  if (a !== '' && b !== '' && Number.isFinite(Number(a)) && Number.isFinite(Number(b))) {
    return Number(a) === Number(b);
  }
  return String(a) === String(b);
}

test('the preset is well-formed XMP that exiftool reads back with the image’s values', {
  skip: exiftool.skip,
}, async () => {
  const db = await freshDatabase();
  const p = await startPipeline(db.pool, db.url);
  const { auth } = await newAccountWithKey(db.pool);
  const other = await newAccountWithKey(db.pool, 'other');
  const dir = await mkdtemp(path.join(tmpdir(), 'imgkit-presets-'));
  const upload = async (file: string) =>
    jsonOf(
      await fetch(`${p.api.base}/v1/images?filename=${encodeURIComponent(path.basename(file))}`, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/octet-stream' },
        body: await readFile(path.join(CORPUS, file)),
      }),
    );
  const images = new Map<string, string>();
  for (const file of [...WITH_SETTINGS, 'metadata/hasselblad_gps.jpg', 'orientation/Landscape_1.jpg']) {
    images.set(file, (await upload(file)).id);
  }
  await p.settle([...images.values()]);

  for (const file of WITH_SETTINGS) {
    const id = images.get(file)!;
    const res = await fetch(`${p.api.base}/v1/images/${id}/lightroom-preset`, { headers: auth });
    assert.equal(res.status, 200, file);
    assert.match(res.headers.get('content-type')!, /^application\/rdf\+xml/);
    const base = path.basename(file).replace(/\.\w+$/, '');
    assert.match(res.headers.get('content-disposition')!, new RegExp(`attachment; filename="${base}\\.xmp"`));
    const saved = path.join(dir, `${base}.xmp`);
    await writeFile(saved, Buffer.from(await res.arrayBuffer()));

    const preset = await crsOf(saved);
    const original = await crsOf(path.join(CORPUS, file));
    assert.equal(preset.Warning, undefined, `${file}: ${preset.Warning}`);
    assert.equal(preset.Error, undefined, `${file}: ${preset.Error}`);
    assert.equal(preset.Name, base);
    assert.equal(preset.PresetType, 'Normal');
    assert.match(String(preset.UUID), /^[0-9A-F]{32}$/);
    const kept = Object.keys(preset).filter((k) => !PRESET_ONLY.has(k));
    assert.ok(kept.length >= 20, `${file}: ${kept.length} settings`);
    for (const tag of kept) {
      assert.ok(tag in original, `${file}: ${tag} is not in the image`);
      assert.ok(same(preset[tag], original[tag]), `${file}: ${tag} ${preset[tag]} ≠ ${original[tag]}`);
    }
    // Every look setting of the image is in the preset; per-image ones are not.
    const dropped = Object.keys(original).filter((k) => !(k in preset) && !PRESET_ONLY.has(k));
    for (const tag of dropped) {
      const asShot = original.WhiteBalance === 'As Shot' && (tag === 'ColorTemperature' || tag === 'Tint');
      assert.ok(
        asShot || PER_IMAGE.includes(tag) || /^(Crop|Upright)|Digest$/.test(tag),
        `${file}: ${tag} was dropped`,
      );
    }
    for (const tag of PER_IMAGE) assert.ok(!(tag in preset), `${file}: ${tag} is per-image`);
  }

  // No develop settings (only a version and flags), or no XMP at all: 404 problem+json.
  for (const file of ['metadata/hasselblad_gps.jpg', 'orientation/Landscape_1.jpg']) {
    const res = await fetch(`${p.api.base}/v1/images/${images.get(file)}/lightroom-preset`, {
      headers: auth,
    });
    assert.equal(res.status, 404, file);
    assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  }
  // Another account's image does not exist for this one.
  const foreign = await fetch(`${p.api.base}/v1/images/${images.get(WITH_SETTINGS[0])}/lightroom-preset`, {
    headers: other.auth,
  });
  assert.equal(foreign.status, 404);
});

test('hostile crs: names that are not plain are dropped, values are escaped, structures skipped', {
  skip: exiftool.skip,
}, async () => {
  const xmp = lightroomPreset(
    {
      Exposure2012: 0.5,
      'Bad"><x:y a="': 1,
      'crs:Contrast2012': 3,
      Look: { Name: 'nested' },
      CameraProfile: 'Adobe "Standard" <&> \u0001',
      ToneCurvePV2012: ['0, 0', '255, 255'],
      Saturation: Number.NaN,
      CropTop: 0.1,
    },
    { name: '</crs:Name><evil/>', uuid: '0123456789ABCDEF0123456789ABCDEF' },
  )!;
  assert.ok(!xmp.includes('<evil/>') && !xmp.includes('Bad"'));
  const dir = await mkdtemp(path.join(tmpdir(), 'imgkit-presets-'));
  await writeFile(path.join(dir, 'h.xmp'), xmp);
  const back = await crsOf(path.join(dir, 'h.xmp'));
  assert.equal(back.Warning, undefined);
  assert.equal(back.Exposure2012, 0.5);
  assert.equal(back.CameraProfile, 'Adobe "Standard" <&> ');
  assert.deepEqual(back.ToneCurvePV2012, ['0, 0', '255, 255']);
  assert.equal(back.Name, '</crs:Name><evil/>');
  for (const gone of ['Contrast2012', 'Look', 'Saturation', 'CropTop']) assert.ok(!(gone in back), gone);
  assert.equal(lightroomPreset({ Version: '9.1', HasSettings: true }, { name: 'x', uuid: 'x' }), undefined);
  assert.equal(lightroomPreset({ Exposure2012: 1, HasSettings: false }, { name: 'x', uuid: 'x' }), undefined);
  assert.equal(lightroomPreset(null, { name: 'x', uuid: 'x' }), undefined);
});
