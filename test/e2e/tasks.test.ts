/**
 * The account's view of the queue (GET /v1/tasks/stats, GET /v1/tasks, POST /v1/tasks/:id/retry)
 * through the real api and worker: only the account's own tasks, and a retry that reopens the
 * image so it completes.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { jsonOf, newAccountWithKey } from '../helpers/api.ts';
import { CORPUS } from '../helpers/corpus.ts';
import { freshDatabase } from '../helpers/db.ts';
import { startServer } from '../helpers/http.ts';
import { startPipeline } from '../helpers/pipeline.ts';

test('an account sees and retries its own failed tasks, and only those', async () => {
  const db = await freshDatabase();
  const p = await startPipeline(db.pool, db.url, { PROCESS_IMAGE_MAX_ATTEMPTS: '1' });
  const mine = await newAccountWithKey(db.pool, 'mine');
  const theirs = await newAccountWithKey(db.pool, 'theirs');
  // The source answers 404 until it is "fixed": the image fails, then a retry succeeds.
  let fixed = false;
  const photo = await readFile(path.join(CORPUS, 'orientation/Landscape_1.jpg'));
  const source = await startServer((_req, res) => {
    if (fixed) res.writeHead(200, { 'Content-Type': 'image/jpeg' }).end(photo);
    else res.writeHead(404).end('not yet');
  });
  const create = async (auth: Record<string, string>) =>
    jsonOf(
      await fetch(`${p.api.base}/v1/images`, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/json' },
        body: JSON.stringify({ url: `${source.url}/photo.jpg` }),
      }),
    );
  const image = await create(mine.auth);
  const other = await create(theirs.auth);
  await p.settle([image.id, other.id]);

  const stats = await jsonOf(await fetch(`${p.api.base}/v1/tasks/stats`, { headers: mine.auth }));
  assert.deepEqual(
    stats.data.map((s: { kind: string; status: string; count: number }) => [s.kind, s.status, s.count]),
    [['process_image', 'failed', 1]],
  );
  assert.equal(stats.oldest_ready_age_seconds, null);
  const failed = await jsonOf(await fetch(`${p.api.base}/v1/tasks?status=failed`, { headers: mine.auth }));
  assert.equal(failed.data.length, 1);
  const task = failed.data[0];
  assert.equal(task.subject_id, image.id);
  assert.equal(task.error.code, 'source_not_found');
  assert.deepEqual([task.attempts, task.max_attempts], [1, 1]);

  // Another account's task is not there for this one, and cannot be retried by it.
  const theirTasks = await jsonOf(await fetch(`${p.api.base}/v1/tasks`, { headers: theirs.auth }));
  assert.equal(theirTasks.data.length, 1);
  assert.notEqual(theirTasks.data[0].id, task.id);
  const foreign = await fetch(`${p.api.base}/v1/tasks/${task.id}/retry`, {
    method: 'POST',
    headers: theirs.auth,
  });
  assert.equal(foreign.status, 404);
  assert.equal((await fetch(`${p.api.base}/v1/tasks?status=pending`, { headers: mine.auth })).status, 400);

  fixed = true;
  const retried = await jsonOf(
    await fetch(`${p.api.base}/v1/tasks/${task.id}/retry`, { method: 'POST', headers: mine.auth }),
  );
  assert.deepEqual([retried.id, retried.status], [task.id, 'pending']);
  // Retrying again while it is not failed any more: nothing to retry.
  const twice = await fetch(`${p.api.base}/v1/tasks/${task.id}/retry`, {
    method: 'POST',
    headers: mine.auth,
  });
  assert.equal(twice.status, 404);
  await p.settle([image.id]);
  const done = await jsonOf(await fetch(`${p.api.base}/v1/images/${image.id}`, { headers: mine.auth }));
  assert.equal(done.status, 'completed');
  const after = await jsonOf(await fetch(`${p.api.base}/v1/tasks/stats`, { headers: mine.auth }));
  assert.deepEqual(after.data, []);
  // The other account's failure is untouched.
  const still = await jsonOf(await fetch(`${p.api.base}/v1/images/${other.id}`, { headers: theirs.auth }));
  assert.equal(still.status, 'failed');
});
