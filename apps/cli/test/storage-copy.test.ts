/**
 * `imgkit storage copy --to s3` against a real S3 server: everything arrives byte for byte,
 * a run killed half-way is finished by running it again, and a second run copies only what
 * is missing.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { LocalBlobStore } from '@imgkit/storage';
import { S3BlobStore } from '@imgkit/storage/s3';
import { TEST_SECRET } from '../../../test/helpers/api.ts';
import { freshBucket, s3Env, s3ServerForTests } from '../../../test/helpers/s3.ts';

const run = promisify(execFile);
const s3 = await s3ServerForTests();
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('imgkit storage copy --to s3', { skip: s3.skip }, async () => {
  const settings = await freshBucket(s3.server!);
  const dataDir = await mkdtemp(path.join(tmpdir(), 'imgkit-copy-'));
  const local = new LocalBlobStore(path.join(dataDir, 'blobs'));
  const bucket = new S3BlobStore(settings);
  const env = {
    ...process.env,
    ...s3Env(settings),
    STORAGE: 'local', // copying comes before the switch
    DATA_DIR: dataDir,
    SECRET_KEY: TEST_SECRET,
    URL_SIGNING_KEY: TEST_SECRET,
  };
  const want = new Map<string, string>();
  for (let i = 0; i < 120; i++) {
    const key = i % 3 === 0 ? `variants/acc_a/img_${i}/thumbnail` : `originals/acc_${i % 2}/img_${i}`;
    const bytes = randomBytes(i === 7 ? 12 * 1024 * 1024 : 2000 + i * 37);
    await local.putBuffer(key, bytes);
    want.set(key, sha(bytes));
  }
  const inBucket = async () => {
    const got = new Map<string, string>();
    for await (const b of bucket.list()) got.set(b.key, sha(await bucket.readBuffer(b.key)));
    return got;
  };
  const copy = async () => {
    const { stdout } = await run(
      process.execPath,
      ['apps/cli/bin/imgkit.js', 'storage', 'copy', '--to', 's3', '--concurrency', '4', '--json'],
      { env },
    );
    return JSON.parse(stdout);
  };

  test('a run killed half-way is finished by the next; every blob arrives byte for byte', async () => {
    const child = spawn(
      process.execPath,
      ['apps/cli/bin/imgkit.js', 'storage', 'copy', '--to', 's3', '--concurrency', '1'],
      {
        env,
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let progress = '';
    await new Promise<void>((resolve) => {
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        progress += d;
        // Killed once it has shown progress past the start.
        if (/copied [1-9]\d*\/120/.test(progress)) resolve();
      });
      child.once('exit', () => resolve());
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r).exitCode !== null && r(null));
    assert.match(progress, /copied \d+\/120 blobs/);
    const partial = (await inBucket()).size;
    assert.ok(partial < 120, `the first run was cut short (${partial} copied)`);

    const result = await copy();
    assert.equal(result.total, 120);
    assert.equal(result.copied + result.skipped, 120);
    assert.equal(result.skipped, partial, 'what the killed run finished is not copied again');
    assert.deepEqual(await inBucket(), want);
  });

  test('running it again copies only what is missing or differs', async () => {
    await bucket.delete('originals/acc_1/img_5');
    const extra = randomBytes(5000);
    await local.putBuffer('originals/acc_9/img_new', extra);
    want.set('originals/acc_9/img_new', sha(extra));
    const result = await copy();
    assert.deepEqual([result.copied, result.skipped], [2, 119]);
    assert.deepEqual(await inBucket(), want);
    bucket.close();
  });
});
