import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { imgkitClient } from '@imgkit/client';
import { newAccountWithKey } from '../../../test/helpers/api.ts';
import { CORPUS } from '../../../test/helpers/corpus.ts';
import { freshDatabase } from '../../../test/helpers/db.ts';
import { startPipeline } from '../../../test/helpers/pipeline.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../../..');
const db = await freshDatabase();
const pipeline = await startPipeline(db.pool, db.url);
const { key } = await newAccountWithKey(db.pool);
const env = { ...process.env, IMGKIT_URL: pipeline.api.base, IMGKIT_KEY: key };

async function imgkitImport(...args: string[]) {
  const { stdout } = await run(
    process.execPath,
    [path.join(ROOT, 'apps/cli/bin/imgkit.js'), 'import', ...args, '--json'],
    {
      env,
    },
  ).catch((err) => err as { stdout: string });
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 1, `one JSON object: ${stdout}`);
  return JSON.parse(lines[0]);
}

async function imageCount(): Promise<number> {
  return (await db.pool.query('SELECT count(*)::int AS n FROM images')).rows[0].n;
}

test('a folder is imported recursively, waited for, summarised by outcome, and a second run skips it all', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'imgkit-import-'));
  await mkdir(path.join(dir, 'nested/deeper'), { recursive: true });
  await copyFile(path.join(CORPUS, 'camera-exif/Canon_40D.jpg'), path.join(dir, 'a.jpg'));
  await copyFile(path.join(CORPUS, 'hash-vectors/peppers.png'), path.join(dir, 'nested/b.png'));
  await copyFile(
    path.join(CORPUS, 'animated/gif/rotating-squares.gif'),
    path.join(dir, 'nested/deeper/c.gif'),
  );
  await copyFile(
    path.join(CORPUS, 'malformed/generated/random_4096_bytes.jpg'),
    path.join(dir, 'nested/broken.jpg'),
  );
  await writeFile(path.join(dir, 'notes.txt'), 'not an image');

  const first = await imgkitImport(dir, '--wait');
  assert.deepEqual(
    { ...first.summary, failed_by_code: undefined },
    {
      items: 4,
      accepted: 4,
      already_imported: 0,
      refused: 0,
      errors: 0,
      completed: 3,
      failed: 1,
      failed_by_code: undefined,
      refused_by_code: {},
    },
  );
  assert.deepEqual(Object.values(first.summary.failed_by_code), [1]);
  assert.equal(await imageCount(), 4);

  const again = await imgkitImport(dir);
  assert.equal(again.summary.already_imported, 4);
  assert.equal(again.summary.accepted, 0);
  assert.equal(await imageCount(), 4, 'nothing imported twice');
});

test('a file of URLs is imported; the typed client reads what was made', async () => {
  const bytes = await (await import('node:fs/promises')).readFile(
    path.join(CORPUS, 'camera-exif/Canon_40D.jpg'),
  );
  const server = createServer((req, res) => {
    if (req.url === '/missing.jpg') return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'image/jpeg' }).end(bytes);
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  after(() => server.close());
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const list = path.join(await mkdtemp(path.join(tmpdir(), 'imgkit-urls-')), 'urls.txt');
  await writeFile(list, `# photos\n${base}/one.jpg\n\n${base}/two.jpg\n${base}/missing.jpg\n`);
  const result = await imgkitImport(list, '--wait', '--concurrency', '2');
  assert.equal(result.summary.items, 3);
  assert.equal(result.summary.completed, 2);
  assert.deepEqual(result.summary.failed_by_code, { source_not_found: 1 });

  const api = imgkitClient(pipeline.api.base, key);
  const done = result.items.find((i: { status: string }) => i.status === 'completed');
  const { data } = await api.GET('/v1/images/{id}', { params: { path: { id: done.id } } });
  assert.equal(data?.width, 100);
});

test('without a key it says what to set, in one line', async () => {
  const r = await run(process.execPath, [path.join(ROOT, 'apps/cli/bin/imgkit.js'), 'import', '.'], {
    env: { ...process.env, IMGKIT_KEY: '' },
  }).catch((err) => err as { stderr: string; code: number });
  assert.equal((r as { code: number }).code, 2);
  assert.match((r as { stderr: string }).stderr, /IMGKIT_KEY/);
});
