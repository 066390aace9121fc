/**
 * The worker process's task slots change at run time through its METRICS_HOST listener (that the
 * new number of tasks then runs at once, with none dropped, is tested on the queue's Worker in
 * packages/queue/test/queue.test.ts).
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { freePort } from '@imgkit/db';
import { TEST_SECRET } from '../../../test/helpers/api.ts';
import { freshDatabase } from '../../../test/helpers/db.ts';

test('POST /concurrency on the worker changes its slots without a restart', async () => {
  const db = await freshDatabase();
  const port = await freePort();
  const worker = fork(path.resolve(import.meta.dirname, '../src/main.ts'), {
    env: {
      ...process.env,
      NODE_ENV: 'production',
      DATABASE_URL: db.url,
      SECRET_KEY: TEST_SECRET,
      URL_SIGNING_KEY: TEST_SECRET,
      DATA_DIR: await mkdtemp(path.join(tmpdir(), 'imgkit-conc-')),
      WORKER_CONCURRENCY: '1',
      METRICS_HOST: `127.0.0.1:${port}`,
      LOG_LEVEL: 'silent',
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    await once(worker, 'message');
    const base = `http://127.0.0.1:${port}/concurrency`;
    assert.deepEqual(await (await fetch(base)).json(), { concurrency: 1 });
    const set = await fetch(`${base}?value=6`, { method: 'POST' });
    assert.equal(set.status, 200);
    assert.deepEqual(await set.json(), { concurrency: 6 });
    assert.deepEqual(await (await fetch(base)).json(), { concurrency: 6 });
    for (const bad of ['0', 'abc', '5000']) {
      assert.equal((await fetch(`${base}?value=${bad}`, { method: 'POST' })).status, 400, bad);
    }
    assert.deepEqual(await (await fetch(base)).json(), { concurrency: 6 }, 'a refused value changes nothing');
  } finally {
    worker.kill('SIGTERM');
    await once(worker, 'exit');
  }
});

test('a METRICS_HOST port in use stops the start with one line naming the error, and no ready message', async () => {
  const db = await freshDatabase();
  const taken = createServer().listen(0, '127.0.0.1');
  await once(taken, 'listening');
  const port = (taken.address() as { port: number }).port;
  try {
    const worker = fork(path.resolve(import.meta.dirname, '../src/main.ts'), {
      env: {
        ...process.env,
        NODE_ENV: 'production',
        DATABASE_URL: db.url,
        SECRET_KEY: TEST_SECRET,
        URL_SIGNING_KEY: TEST_SECRET,
        DATA_DIR: await mkdtemp(path.join(tmpdir(), 'imgkit-conc-')),
        METRICS_HOST: `127.0.0.1:${port}`,
        LOG_LEVEL: 'silent',
      },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    worker.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const messages: unknown[] = [];
    worker.on('message', (m) => messages.push(m));
    const [code] = await once(worker, 'exit');
    assert.equal(code, 1);
    assert.match(stderr, /imgkit worker: failed to start: .*EADDRINUSE/);
    assert.deepEqual(messages, [], 'never said ready');
  } finally {
    taken.close();
  }
});
