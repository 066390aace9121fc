import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { hashToHex } from '@imgkit/images';
import { jsonOf, newAccountWithKey } from '../../../test/helpers/api.ts';
import { CORPUS, corpusFiles } from '../../../test/helpers/corpus.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');

import { freshDatabase } from '../../../test/helpers/db.ts';
import { startPipeline } from '../../../test/helpers/pipeline.ts';
import { oracleTool } from '../../../test/helpers/tools.ts';

const run = promisify(execFile);

// Expected outcome per file: a status and, for failures, the error code. Anything not
// listed must complete. The codes are the contract: no file may end `internal_error`.
const EXPECTED_FAILURES: [RegExp, string][] = [
  [/^bombs\//, 'image_too_large'],
  [/^animated\/avifs\//, 'unsupported_format'],
  [/^html-og\//, 'not_an_image'],
  [/^hash-vectors\/vectors\.json$/, 'not_an_image'],
  [/^formats\/other\/.*\.(bmp|ico|psd|qoi|jxl|jp2|svg)$/, 'unsupported_format'],
  [/^formats\/other\/canon_cr2_stripped\.cr2$/, 'decode_failed'],
  [/^formats\/pngsuite\/PngSuite\.README$/, 'not_an_image'],
  [/^formats\/jpeg\/12bit_precision\.jpg$/, 'decode_failed'],
  [/^formats\/tiff\/old_style_jpeg_strip\.tif$/, 'decode_failed'],
];
const MALFORMED_CODES = new Set([
  'decode_failed',
  'not_an_image',
  'unsupported_format',
  'empty_file',
  'image_too_large',
]);

const db = await freshDatabase();

test('every corpus file ends in a defined state through API → queue → worker', {
  timeout: 600_000,
}, async (t) => {
  const pipeline = await startPipeline(db.pool, db.url);
  const { auth } = await newAccountWithKey(db.pool);
  const files = await corpusFiles('.');
  const ids = new Map<string, string>();
  for (const file of files.filter((f) => !f.startsWith('LICENSES/'))) {
    const res = await fetch(
      `${pipeline.api.base}/v1/images?filename=${encodeURIComponent(path.basename(file))}`,
      {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/octet-stream' },
        body: await readFile(path.join(CORPUS, file)),
      },
    );
    assert.equal(res.status, 202, file);
    ids.set(file, (await jsonOf(res)).id);
  }
  await pipeline.settle([...ids.values()], 540_000);
  const rows = await db.pool.query(
    'SELECT id, status, error_code, error_message, width, height, phash, dhash, format, taken_at, iptc FROM images',
  );
  const byId = new Map(rows.rows.map((r) => [r.id, r]));
  const records = new Map([...ids].map(([file, id]) => [file, byId.get(id)]));
  const running = await db.pool.query("SELECT count(*)::int AS n FROM tasks WHERE status = 'running'");
  assert.equal(running.rows[0].n, 0, 'no task left running');

  await t.test('outcomes match the table', () => {
    const wrong: string[] = [];
    for (const [file, r] of records) {
      const expected = EXPECTED_FAILURES.find(([re]) => re.test(file))?.[1];
      // Damaged on purpose: any defined outcome is right, a crash or internal_error is not.
      if (file.startsWith('malformed/') || /^formats\/pngsuite\/x/.test(file)) {
        if (r.status === 'failed' && !MALFORMED_CODES.has(r.error_code))
          wrong.push(`${file}: ${r.error_code}`);
        continue;
      }
      const got = r.status === 'completed' ? 'completed' : r.error_code;
      if (got !== (expected ?? 'completed'))
        wrong.push(`${file}: expected ${expected ?? 'completed'}, got ${got} (${r.error_message})`);
    }
    assert.deepEqual(wrong, []);
  });

  await t.test('orientation files report the displayed size and hash like their upright twin', () => {
    for (const set of ['Landscape', 'Portrait']) {
      const hashes = new Set<string>();
      for (let i = 0; i <= 8; i++) {
        const r = records.get(`orientation/${set}_${i}.jpg`);
        assert.deepEqual(
          [r.width, r.height],
          set === 'Landscape' ? [1800, 1200] : [1200, 1800],
          `${set}_${i}`,
        );
        hashes.add(r.phash);
      }
      assert.equal(hashes.size, 1, `${set}: one pHash for all nine orientations`);
    }
    const kimono = records.get('orientation/avif-irot-imir/kimono.rotate90.avif');
    assert.deepEqual([kimono.width, kimono.height], [722, 1024], 'AVIF irot applied once');
  });

  await t.test('the imagehash reference vectors match bit for bit', async () => {
    const vectors = JSON.parse(await readFile(path.join(CORPUS, 'hash-vectors/vectors.json'), 'utf8')).images;
    for (const [name, v] of Object.entries(vectors) as [string, { phash: string; dhash: string }][]) {
      const id = ids.get(`hash-vectors/${name}`)!;
      const image = await jsonOf(await fetch(`${pipeline.api.base}/v1/images/${id}`, { headers: auth }));
      assert.equal(image.phash, v.phash, `${name} phash`);
      assert.equal(image.dhash, v.dhash, `${name} dhash`);
    }
  });

  await t.test('pHash and dHash equal imagehash 4.3 on Pillow for every image Pillow opens', async () => {
    // test/hash-vectors/pillow.json: scripts/hash-vectors.py over the full corpus (Pillow 9.4,
    // scipy 1.10, EXIF orientation applied). No exceptions: flat images, images smaller than the
    // grid, palette, CMYK, 16-bit, and images of two to four grey levels whose DCT terms tie with
    // the median (which needs scipy's own DCT to the last bit) all match.
    const vectors = JSON.parse(
      await readFile(path.join(REPO_ROOT, 'test/hash-vectors/pillow.json'), 'utf8'),
    ).images;
    const differ: string[] = [];
    let compared = 0;
    const notHashed: string[] = [];
    for (const [file, v] of Object.entries(vectors) as [string, { phash: string; dhash: string }][]) {
      const r = records.get(file);
      if (!r) continue; // not in this corpus (the repository's subset)
      if (r.status !== 'completed' || r.phash === null) {
        notHashed.push(`${file}: ${r.status} ${r.error_code ?? ''}`);
        continue;
      }
      compared++;
      const ours = { phash: hashToHex(r.phash), dhash: hashToHex(r.dhash) };
      if (ours.phash !== v.phash || ours.dhash !== v.dhash) differ.push(file);
    }
    assert.ok(compared >= (process.env.IMGKIT_CORPUS ? 350 : 60), `${compared} images compared`);
    assert.deepEqual(differ, [], 'hashes differ from Pillow’s');
    console.log(
      `# ${compared} hashed and equal; Pillow opens but imgkit does not hash: ${notHashed.join('; ')}`,
    );
  });

  await t.test(
    'taken_at is the capture date exiftool reads (EXIF, XMP, IPTC)',
    { skip: (await oracleTool(['exiftool'], ['-ver'])).skip },
    async () => {
      // JPEG, PNG, WebP and TIFF (whose IPTC sits in its IPTC-NAA tag).
      const files = [...records.keys()].filter(
        (f) =>
          /^(camera-exif|metadata|color-icc|orientation)\//.test(f) && records.get(f).status === 'completed',
      );
      const tags = ['-ExifIFD:DateTimeOriginal', '-ExifIFD:OffsetTimeOriginal', '-XMP-exif:DateTimeOriginal'];
      tags.push(
        '-IPTC:DateCreated',
        '-IPTC:TimeCreated',
        '-XMP-photoshop:DateCreated',
        '-XMP-xmp:CreateDate',
      );
      const out = JSON.parse(
        (
          await run('exiftool', ['-j', '-G1', ...tags, ...files.map((f) => path.join(CORPUS, f))], {
            maxBuffer: 64 << 20,
          })
        ).stdout,
      );
      const iso = (v: unknown) => {
        const m =
          /^(\d{4}):(\d{2}):(\d{2})(?: (\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(Z|[+-]\d{2}:\d{2})?)?$/.exec(
            String(v ?? ''),
          );
        if (!m || m[1] === '0000') return undefined;
        if (!m[4]) return `${m[1]}-${m[2]}-${m[3]}`;
        return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6] ?? '00'}${m[7] === 'Z' ? '+00:00' : (m[7] ?? '')}`;
      };
      let dated = 0;
      const mismatches: string[] = [];
      for (const [i, file] of files.entries()) {
        const e = out[i];
        const offset =
          typeof e['ExifIFD:OffsetTimeOriginal'] === 'string' ? e['ExifIFD:OffsetTimeOriginal'] : '';
        const iptc =
          e['IPTC:DateCreated'] && e['IPTC:TimeCreated']
            ? `${e['IPTC:DateCreated']} ${e['IPTC:TimeCreated']}`
            : e['IPTC:DateCreated'];
        const want =
          iso(e['ExifIFD:DateTimeOriginal'] && `${e['ExifIFD:DateTimeOriginal']}${offset}`) ??
          iso(e['XMP-exif:DateTimeOriginal']) ??
          iso(iptc) ??
          iso(e['XMP-photoshop:DateCreated']) ??
          iso(e['XMP-xmp:CreateDate']) ??
          null;
        const ours = records.get(file).taken_at;
        if (want) dated++;
        if (ours !== want) mismatches.push(`${file}: ours ${ours} exiftool ${want}`);
      }
      assert.ok(dated >= (process.env.IMGKIT_CORPUS ? 40 : 10), `${dated} files with a capture date`);
      assert.deepEqual(mismatches, []);
    },
  );

  await t.test(
    'IPTC is read wherever exiftool finds it, TIFF included: keywords, title and copyright equal',
    { skip: (await oracleTool(['exiftool'], ['-ver'])).skip },
    async () => {
      const files = [...records.keys()].filter(
        (f) =>
          /^(camera-exif|metadata|color-icc|orientation)\//.test(f) && records.get(f).status === 'completed',
      );
      const args = ['-j', '-IPTC:Keywords', '-IPTC:CopyrightNotice', '-IPTC:ObjectName'];
      // exiftool exits 1 when it warns about a file; its JSON is complete all the same.
      const stdout = await run('exiftool', [...args, ...files.map((f) => path.join(CORPUS, f))], {
        maxBuffer: 64 << 20,
      }).then(
        (r) => r.stdout,
        (err: { stdout?: string }) => err.stdout ?? '[]',
      );
      const out = JSON.parse(stdout);
      const mismatches: string[] = [];
      let withIptc = 0;
      let tiffs = 0;
      for (const [i, file] of files.entries()) {
        const e = out[i];
        if (e.Keywords === undefined && e.CopyrightNotice === undefined && e.ObjectName === undefined)
          continue;
        // Not read, knowingly: IPTC in an AFCP trailer (AXS File Concatenation Protocol, data
        // appended after the JPEG's end, a 2000s Photo Mechanic convention).
        if (file === 'metadata/exiftool_AFCP.jpg') continue;
        withIptc++;
        if (/\.tiff?$/i.test(file)) tiffs++;
        const iptc = records.get(file).iptc ?? {};
        const list = (v: unknown) => (v === undefined ? [] : [v].flat().map(String));
        if (JSON.stringify(list(iptc.Keywords)) !== JSON.stringify(list(e.Keywords)))
          mismatches.push(
            `${file}: Keywords ${JSON.stringify(iptc.Keywords)} vs ${JSON.stringify(e.Keywords)}`,
          );
        for (const tag of ['CopyrightNotice', 'ObjectName']) {
          if (String(iptc[tag] ?? '') !== String(e[tag] ?? ''))
            mismatches.push(`${file}: ${tag} ${iptc[tag]} vs ${e[tag]}`);
        }
      }
      assert.ok(tiffs >= 1, 'a TIFF with IPTC is in the corpus');
      assert.ok(withIptc >= 2, `${withIptc} files with IPTC`);
      assert.deepEqual(mismatches, []);
    },
  );

  await t.test('animated GIF and WebP are reported as animated', () => {
    const animated = [...records].filter(([f, r]) => /^animated\/(gif|webp)\//.test(f) && r.format?.animated);
    assert.ok(animated.length >= 4, `${animated.length} animated files`);
  });

  await t.test(
    'EXIF equals exiftool’s for the common photographic tags',
    { skip: (await oracleTool(['exiftool'], ['-ver'])).skip },
    async () => {
      const files = [...records.keys()].filter(
        (f) => /^(camera-exif|metadata)\//.test(f) && records.get(f).status === 'completed',
      );
      const mismatches = await compareWithExiftool(
        files,
        async (file) =>
          (await jsonOf(await fetch(`${pipeline.api.base}/v1/images/${ids.get(file)}`, { headers: auth })))
            .exif ?? {},
      );
      assert.deepEqual(mismatches, []);
    },
  );
});

/**
 * The tags compared (ISO: EXIF's, else exiftool's Composite:ISO from Canon maker notes), and
 * the normalisation, in full: a value matches when it
 * equals exiftool's printed value (`exiftool -j`) or its raw value
 * (`exiftool -j -n`); numbers compare with a relative tolerance of 1e-6
 * (rationals), and because `exiftool -j` prints number-like strings as JSON
 * numbers (Software "1.00" becomes 1.00), a number-like string of ours is
 * compared by value with a number of theirs. exifr drops empty strings, so an
 * empty string of exiftool's counts as absent. Only the EXIF group is read
 * (`-EXIF:all`), so an XMP copy cannot stand in for a missing EXIF tag. A tag
 * present on one side only is a mismatch.
 */
export const COMPARED_TAGS = [
  'Make',
  'Model',
  'LensModel',
  'LensInfo',
  'ExposureTime',
  'FNumber',
  'ISO',
  'FocalLength',
  'FocalLengthIn35mmFormat',
  'Flash',
  'ExposureProgram',
  'MeteringMode',
  'WhiteBalance',
  'ExposureCompensation',
  'Orientation',
  'Software',
  'DateTimeOriginal',
  'CreateDate',
  'ModifyDate',
  'OffsetTime',
  'OffsetTimeOriginal',
  'OffsetTimeDigitized',
];

function sameValue(mine: unknown, theirs: unknown): boolean {
  if (mine === undefined || theirs === undefined) return mine === theirs;
  const numeric = (v: unknown) =>
    typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : NaN;
  const [a, b] = [numeric(mine), numeric(theirs)];
  if (typeof theirs === 'number' && !Number.isNaN(a))
    return Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));
  return String(mine) === String(theirs);
}

async function compareWithExiftool(
  files: string[],
  ours: (file: string) => Promise<Record<string, unknown>>,
) {
  // Composite:ISO stands in for EXIF ISO where a camera wrote it only in its maker notes
  // (older Canons); EXIF's ISO wins wherever it exists.
  const args = ['-j', '-EXIF:all', '-Composite:ISO', ...files.map((f) => path.join(CORPUS, f))];
  const printed = JSON.parse((await run('exiftool', args, { maxBuffer: 64 << 20 })).stdout);
  const raw = JSON.parse((await run('exiftool', ['-n', ...args], { maxBuffer: 64 << 20 })).stdout);
  const mismatches: string[] = [];
  for (let i = 0; i < files.length; i++) {
    const exif = await ours(files[i]);
    for (const tag of COMPARED_TAGS) {
      const mine = exif[tag];
      const theirs = [printed[i][tag], raw[i][tag]].map((v) => (v === '' ? undefined : v));
      if (mine === undefined && theirs[0] === undefined) continue;
      if (!theirs.some((t) => sameValue(mine, t))) {
        mismatches.push(
          `${files[i]} ${tag}: ours ${JSON.stringify(mine)} exiftool ${JSON.stringify(theirs)}`,
        );
      }
    }
  }
  return mismatches;
}
