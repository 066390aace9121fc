import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { findOgImage } from '@imgkit/media';
import { jsonOf, newAccountWithKey } from '../../../test/helpers/api.ts';
import { CORPUS } from '../../../test/helpers/corpus.ts';
import { freshDatabase } from '../../../test/helpers/db.ts';
import { startServer } from '../../../test/helpers/http.ts';
import { startPipeline } from '../../../test/helpers/pipeline.ts';

const db = await freshDatabase();
const pipeline = await startPipeline(db.pool, db.url, {
  MAX_DOWNLOAD_BYTES: String(2 * 1024 * 1024),
  FETCH_TIMEOUT_MS: '1500',
  PROCESS_IMAGE_MAX_ATTEMPTS: '2',
  PROCESS_IMAGE_BACKOFF_MS: '20',
});
const { auth } = await newAccountWithKey(db.pool);
const photo = await readFile(path.join(CORPUS, 'camera-exif/Canon_40D.jpg'));
const png = await readFile(path.join(CORPUS, 'hash-vectors/peppers.png'));

const source = await startServer((req, res) => {
  const url = req.url ?? '';
  if (url === '/photo.jpg') return res.writeHead(200, { 'content-type': 'image/jpeg' }).end(photo);
  if (url === '/lying-type') return res.writeHead(200, { 'content-type': 'text/plain' }).end(photo);
  if (url === '/download?id=7') {
    return res.writeHead(200, { 'content-disposition': 'attachment; filename="holiday.png"' }).end(png);
  }
  if (url.startsWith('/static/browse/')) return res.writeHead(200, { 'content-type': 'image/png' }).end(png);
  if (url === '/arxiv') {
    return readFile(path.join(CORPUS, 'html-og/arxiv_abs_relative_og_image.html')).then((html) =>
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html),
    );
  }
  if (url === '/page') {
    return res
      .writeHead(200, { 'content-type': 'text/html' })
      .end('<html><head><meta property="og:image" content="/photo.jpg"></head><body>hi</body></html>');
  }
  if (url === '/no-og')
    return res.writeHead(200, { 'content-type': 'text/html' }).end('<html><head></head></html>');
  if (url === '/huge') {
    res.writeHead(200, { 'content-type': 'image/jpeg' });
    const chunk = Buffer.alloc(256 * 1024);
    let sent = 0;
    const pump = () => {
      while (sent < 8 * 1024 * 1024 && res.write(chunk)) sent += chunk.length;
      if (sent < 8 * 1024 * 1024) res.once('drain', pump);
      else res.end();
    };
    return pump();
  }
  if (url === '/slow') {
    res.writeHead(200, { 'content-type': 'image/jpeg' });
    const t = setInterval(() => res.write('x'), 1000);
    res.on('close', () => clearInterval(t));
    return;
  }
  if (url.startsWith('/loop')) return res.writeHead(302, { location: `/loop${url.length}` }).end();
  if (url === '/gone') return res.writeHead(404).end('nope');
  if (url === '/flaky-503') return res.writeHead(503, { 'retry-after': '0' }).end();
  res.writeHead(500).end();
});

async function ingest(url: string, extra: object = {}) {
  const res = await fetch(`${pipeline.api.base}/v1/images`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ url, ...extra }),
  });
  assert.equal(res.status, 202);
  const { id } = await jsonOf(res);
  await pipeline.settle([id]);
  return jsonOf(await fetch(`${pipeline.api.base}/v1/images/${id}`, { headers: auth }));
}

test('an image URL is downloaded once, stored, and fully extracted', async () => {
  const before = source.requests.filter((r) => r === '/photo.jpg').length;
  const image = await ingest(`${source.url}/photo.jpg`, { passthrough: { a: 1 } });
  assert.equal(image.status, 'completed', JSON.stringify(image.error));
  assert.equal(image.final_url, `${source.url}/photo.jpg`);
  assert.equal(image.filename, 'photo.jpg');
  assert.equal(image.content_type, 'image/jpeg');
  assert.equal(image.byte_size, photo.length);
  assert.equal(image.width, 100);
  assert.equal(image.exif.Model, 'Canon EOS 40D');
  assert.equal(image.exif.ExposureTime, '1/160');
  assert.equal(image.exif.FocalLength, '135.0 mm');
  assert.equal(image.exif.Flash, 'On, Fired');
  assert.match(image.phash, /^[0-9a-f]{16}$/);
  assert.match(image.dhash, /^[0-9a-f]{16}$/);
  assert.ok(
    image.palette.length >= 1 &&
      Math.abs(image.palette.reduce((s: number, p: { weight: number }) => s + p.weight, 0) - 1) < 0.01,
  );
  assert.ok(image.placeholder.length >= 6);
  assert.equal(image.format.icc_profile, 'sRGB IEC61966-2.1');
  assert.equal(image.attempts, 1);
  assert.ok(image.completed_at);
  assert.equal(source.requests.filter((r) => r === '/photo.jpg').length - before, 1, 'fetched exactly once');
  const original = await fetch(`${pipeline.api.base}/v1/images/${image.id}/original`, { headers: auth });
  assert.deepEqual(Buffer.from(await original.arrayBuffer()), photo);
  assert.equal(original.headers.get('content-type'), 'image/jpeg');
});

test('Content-Type is only a hint: bytes decide; Content-Disposition names the file', {}, async () => {
  const lying = await ingest(`${source.url}/lying-type`);
  assert.equal(lying.status, 'completed');
  assert.equal(lying.content_type, 'image/jpeg');
  const named = await ingest(`${source.url}/download?id=7`);
  assert.equal(named.filename, 'holiday.png');
  assert.equal(named.content_type, 'image/png');
});

test('an HTML page is followed to its og:image; final_url records where the bytes came from', {}, async () => {
  const page = await ingest(`${source.url}/page`);
  assert.equal(page.status, 'completed');
  assert.equal(page.final_url, `${source.url}/photo.jpg`);
  const arxiv = await ingest(`${source.url}/arxiv`);
  assert.equal(arxiv.status, 'completed', JSON.stringify(arxiv.error));
  assert.equal(arxiv.final_url, `${source.url}/static/browse/0.3.4/images/arxiv-logo-fb.png`);
  const none = await ingest(`${source.url}/no-og`);
  assert.deepEqual([none.status, none.error.code], ['failed', 'no_og_image']);
});

test('failures end with clear codes: 404, byte cap, slow server, redirect loop, 5xx after retries', {}, async () => {
  const cases: [string, string][] = [
    ['/gone', 'source_not_found'],
    ['/huge', 'download_too_large'],
    ['/slow', 'download_timeout'],
    ['/loop', 'too_many_redirects'],
    ['/flaky-503', 'source_unavailable'],
  ];
  for (const [p, code] of cases) {
    const image = await ingest(`${source.url}${p}`, { exif: false });
    assert.equal(image.status, 'failed', p);
    assert.equal(image.error.code, code, `${p}: ${image.error.message}`);
  }
  const flaky = await ingest(`${source.url}/flaky-503`);
  assert.equal(flaky.attempts, 2, 'retryable errors are retried up to max attempts');
});

test('exif: false skips EXIF, XMP and IPTC', async () => {
  const image = await ingest(`${source.url}/photo.jpg`, { exif: false });
  assert.equal(image.status, 'completed');
  assert.equal(image.exif, null);
  assert.equal(image.width, 100);
});

test('with FETCH_ALLOW_PRIVATE_NETWORKS off, loopback and metadata URLs fail as blocked_address', async () => {
  const own = await freshDatabase(); // its own queue, so the permissive worker above cannot take these tasks
  const guarded = await startPipeline(own.pool, own.url, { FETCH_ALLOW_PRIVATE_NETWORKS: 'false' });
  const { auth: a } = await newAccountWithKey(own.pool);
  for (const url of [
    `${source.url}/photo.jpg`,
    'http://169.254.169.254/latest/meta-data/',
    'http://[::1]/x.jpg',
  ]) {
    const res = await fetch(`${guarded.api.base}/v1/images`, {
      method: 'POST',
      headers: { ...a, 'Content-Type': 'application/json' },
      body: JSON.stringify({ url }),
    });
    const { id } = await jsonOf(res);
    await guarded.settle([id]);
    const row = (await own.pool.query('SELECT status, error_code FROM images WHERE id = $1', [id])).rows[0];
    assert.deepEqual(row, { status: 'failed', error_code: 'blocked_address' }, url);
  }
});

test('og:image extraction picks the right URL on every corpus page', async () => {
  const expected: Record<string, [string, string]> = {
    'arxiv_abs_relative_og_image.html': [
      'https://arxiv.org/abs/1706.03762',
      'https://arxiv.org/static/browse/0.3.4/images/arxiv-logo-fb.png',
    ],
    'plos_one_article_og_image_query_string.html': [
      'https://journals.plos.org/plosone/article?id=10.1371/journal.pone.0000001',
      'https://journals.plos.org/plosone/article/figure/image?id=10.1371/journal.pone.0000001.g009&size=inline',
    ],
    'imdb_title_og_image_and_jsonld.html': [
      'https://www.imdb.com/title/tt0068646/',
      'https://m.media-amazon.com/images/M/MV5BZWYwMjUxNjMtMzE0MC00NDM3LWIxMmQtYmEyNWVjNjdlZGZjXkEyXkFqcGc@._V1_FMjpg_UX1000_.jpg',
    ],
    'og_image_edge_cases_handwritten.html': [
      'https://example.test/articles/42/',
      'https://img.example.test/secure.jpg',
    ],
  };
  for (const [file, [pageUrl, image]] of Object.entries(expected)) {
    const html = await readFile(path.join(CORPUS, 'html-og', file), 'utf8');
    assert.equal(findOgImage(html, pageUrl), image, file);
  }
  // Relative URLs resolve against <base href>; unsafe schemes are skipped.
  const base =
    '<head><base href="https://cdn.example.test/assets/"><meta property="og:image" content="javascript:alert(1)"><meta property="og:image" content="../img/r.webp"></head>';
  assert.equal(findOgImage(base, 'https://example.test/a/'), 'https://cdn.example.test/img/r.webp');
  assert.equal(
    findOgImage('<head><link rel="image_src" href="/i.png"></head>', 'https://x.test/p'),
    'https://x.test/i.png',
  );
  assert.equal(
    findOgImage('<head></head><body><meta property="og:image" content="/b.jpg"></body>', 'https://x.test/'),
    undefined,
  );
});
