import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { jsonOf, newAccountWithKey, startApi } from '../../../test/helpers/api.ts';
import { CORPUS } from '../../../test/helpers/corpus.ts';
import { freshDatabase } from '../../../test/helpers/db.ts';

const db = await freshDatabase();
const api = await startApi(db.pool);
const { auth } = await newAccountWithKey(db.pool);
const jpeg = await readFile(path.join(CORPUS, 'camera-exif/Canon_40D.jpg'));

async function postJob(body: unknown) {
  const res = await fetch(`${api.base}/v1/jobs`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await jsonOf(res) };
}

async function upload(): Promise<string> {
  const res = await fetch(`${api.base}/v1/images`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'image/jpeg' },
    body: jpeg,
  });
  return (await jsonOf(res)).id;
}

test('jobs that can never succeed are refused with 400 at the door, naming the field', async () => {
  const image = await upload();
  const cases: [unknown, string][] = [
    [{ image_id: image, operation: 'resize', width: 300 }, 'height'],
    [{ image_id: image, operation: 'cover', height: 300 }, 'height'],
    [{ image_id: image, operation: 'thumbnail' }, 'width'],
    [{ image_id: image, operation: 'thumbnail', width: 100_000 }, 'width'],
    [{ image_id: image, operation: 'convert', output_format: 'bmp' }, 'output_format'],
    [{ operation: 'convert' }, 'image_id'],
    [{ image_id: image, operation: 'convert', watermark: { image_id: image } }, 'watermark.image_id'],
  ];
  for (const [body, field] of cases) {
    const r = await postJob(body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.body.code, 'validation_failed');
    assert.ok(
      r.body.errors.some((e: { field: string }) => e.field === field),
      `${JSON.stringify(body)} → ${JSON.stringify(r.body.errors)}`,
    );
  }
  // The same image, once failed, is no input either.
  await db.pool.query("UPDATE images SET status = 'failed', error_code = 'not_an_image' WHERE id = $1", [
    image,
  ]);
  const failed = await postJob({ image_id: image, operation: 'convert' });
  assert.equal(failed.status, 400);
  assert.equal(failed.body.errors[0].field, 'image_id');
});

test('a valid job is accepted with 202', async () => {
  const image = await upload();
  const r = await postJob({ image_id: image, operation: 'thumbnail', width: 64 });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.match(r.body.job_id, /^job_/);
});
