import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { jsonOf, newAccountWithKey, startApi, TEST_SECRET } from '../../../test/helpers/api.ts';
import { CORPUS, corpusFiles } from '../../../test/helpers/corpus.ts';
import { freshDatabase } from '../../../test/helpers/db.ts';

const run = promisify(execFile);

async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

test('every bomb fails fast with image_too_large and the worker process stays under 400 MB', {
  timeout: 120_000,
}, async () => {
  const db = await freshDatabase();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'imgkit-bombs-'));
  const api = await startApi(db.pool, { blobRoot: path.join(dataDir, 'blobs'), uploadBytes: 8 << 20 });
  const { auth } = await newAccountWithKey(db.pool);
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const metricsPort = (probe.address() as { port: number }).port;
  await new Promise((r) => probe.close(r));
  const worker = spawn(process.execPath, ['apps/worker/src/main.ts'], {
    env: {
      ...process.env,
      METRICS_HOST: `127.0.0.1:${metricsPort}`,
      DATABASE_URL: db.url,
      DATA_DIR: dataDir,
      SECRET_KEY: TEST_SECRET,
      URL_SIGNING_KEY: TEST_SECRET,
      WORKER_CONCURRENCY: '2',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const ids: string[] = [];
  for (const file of await corpusFiles('bombs')) {
    const res = await fetch(`${api.base}/v1/images`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/octet-stream' },
      body: await readFile(path.join(CORPUS, file)),
    });
    ids.push((await jsonOf(res)).id);
  }
  for (;;) {
    const r = await db.pool.query(
      "SELECT count(*)::int AS n FROM images WHERE status IN ('completed', 'failed')",
    );
    if (r.rows[0].n === ids.length) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  const peak = await peakRssMb(worker.pid!);
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  assert.match(metrics, /imgkit_tasks_finished_total\{kind="process_image",outcome="failed"\} 1[01]/);
  assert.match(metrics, /imgkit_stage_duration_seconds_count\{stage="extract"\} \d+/);
  worker.kill('SIGTERM');
  const [code] = await once(worker, 'exit');
  assert.equal(code, 0);
  const rows = await db.pool.query('SELECT status, error_code FROM images');
  assert.ok(
    rows.rows.every((r) => r.status === 'failed' && r.error_code === 'image_too_large'),
    JSON.stringify(rows.rows),
  );
  assert.ok(peak < 400, `worker peak RSS ${peak.toFixed(0)} MB`);
});

test('EXIF output does not depend on the server time zone', async () => {
  const files = (await corpusFiles('camera-exif', 'metadata')).slice(0, 40).map((f) => path.join(CORPUS, f));
  const script = path.join(import.meta.dirname, 'fixtures/extract-json.ts');
  const inZone = async (tz: string) =>
    (
      await run(process.execPath, [script, ...files], {
        env: { ...process.env, TZ: tz },
        maxBuffer: 64 << 20,
      })
    ).stdout;
  const [ny, utc] = await Promise.all([inZone('America/New_York'), inZone('UTC')]);
  assert.equal(ny, utc);
  assert.match(ny, /"DateTimeOriginal":"\d{4}:\d\d:\d\d \d\d:\d\d:\d\d"/);
});
