/**
 * bench/scale: does imgkit scale out across processes that share one PostgreSQL and one S3
 * bucket, where does this machine saturate, and is work ever lost or done twice?
 *
 *   (a) 1, 2, 4, 8 worker processes (each at its default concurrency) drain the same 2,000
 *       no-op tasks; every process reports the ids it ran: lost = 2,000 − distinct,
 *       duplicated = ran − distinct.
 *   (b) 1, 2, 4, 8 real `apps/worker` processes (STORAGE=s3, defaults) process the same 200
 *       generated photos (2 MP, two variants each), uploaded to the bucket first and created
 *       in one burst once the workers are up; effects counted: completed images, variant
 *       objects in the bucket, attempts.
 *   (c) 1 and 2 real `apps/api` processes (STORAGE=s3) take POST /v1/images, driven by
 *       autocannon with the same total connections.
 *   (d) the claim's cost with a deep queue: one worker process drains 20,000 no-op tasks
 *       from an otherwise empty table, from behind 1,000,000 pending tasks, and next to
 *       1,000,000 finished tasks not yet pruned (statistics current in every case).
 *
 * Each case gets a fresh database (and bucket). The S3 server is OpenStack Swift with s3api
 * (scripts/swift-s3.ts), on the same machine: its CPU is part of what saturates.
 * BENCH_DATABASE_URL (else embedded), BENCH_SCALE_PHOTOS (200), BENCH_SCALE_TASKS (2000),
 * BENCH_SCALE_WORKERS (1,2,4,8), BENCH_DEEP_TASKS (1000000), BENCH_DURATION (10).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createAccount, createApiKey } from '@imgkit/auth';
import { createPool, type Pool } from '@imgkit/db';
import { newId } from '@imgkit/ids';
import { createImage, originalKey } from '@imgkit/images';
import { FairRanks, Notifier } from '@imgkit/queue';
import { S3BlobStore } from '@imgkit/storage/s3';
import autocannon from 'autocannon';
import { startSwiftS3 } from '../../scripts/swift-s3.ts';
import { benchDatabase, benchPostgres, fmt, freePort, percentile, table } from '../lib.ts';
import { photosOf } from '../photos.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SECRET = 'bench-secret-key-that-is-long-enough-0123456789';
const TASKS = Number(process.env.BENCH_SCALE_TASKS ?? 2000);
const PHOTOS = Number(process.env.BENCH_SCALE_PHOTOS ?? 200);
const WORKERS = (process.env.BENCH_SCALE_WORKERS ?? '1,2,4,8').split(',').map(Number);
const DEEP = Number(process.env.BENCH_DEEP_TASKS ?? 1_000_000);
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const PARTS = new Set((process.env.BENCH_SCALE_PARTS ?? 'workers,api,deep').split(','));

const { adminUrl, stop: stopPostgres } = await benchPostgres();
const s3 = await startSwiftS3();
const s3Env = (bucket: string) => ({
  STORAGE: 's3',
  S3_BUCKET: bucket,
  S3_ENDPOINT: s3.endpoint,
  S3_REGION: s3.region,
  S3_ACCESS_KEY_ID: s3.accessKeyId,
  S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
});
const s3Store = (bucket: string) =>
  new S3BlobStore({
    bucket,
    region: s3.region,
    endpoint: s3.endpoint,
    forcePathStyle: true,
    checksum: 'when_required',
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    maxAttempts: 4,
    requestTimeoutMs: 30_000,
  });

/** The highest number of connections to `db` seen while `run` runs (sampled every 100 ms). */
async function withConnectionPeak<T>(pool: Pool, db: string, run: () => Promise<T>): Promise<[T, number]> {
  let peak = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const r = await pool.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [db]);
      peak = Math.max(peak, r.rows[0].n - 1); // not the sampler's own
      await sleep(100);
    }
  })();
  try {
    return [await run(), peak];
  } finally {
    sampling = false;
    await sampler;
  }
}

async function forkReady(script: string, args: string[], env: Record<string, string>): Promise<ChildProcess> {
  const child = fork(path.join(root, script), args, {
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      SECRET_KEY: SECRET,
      URL_SIGNING_KEY: SECRET,
      ...env,
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [msg] = (await Promise.race([
    once(child, 'message'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`${script} exited with ${code} before it was ready`);
    }),
  ])) as [unknown];
  void msg;
  return child;
}

async function stopAll(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(async (c) => {
      if (c.exitCode !== null) return;
      const exited = once(c, 'exit');
      c.kill('SIGTERM');
      await exited;
    }),
  );
}

async function untilCount(pool: Pool, sql: string, want: number, limitMs = 600_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const r = await pool.query(sql);
    if (r.rows[0].n >= want) return;
    if (Date.now() > deadline) throw new Error(`timed out at ${r.rows[0].n}/${want}: ${sql}`);
    await sleep(20);
  }
}

/** Task latency: enqueue (created_at) to finish, over the tasks of `kind`. */
async function taskLatencyP95(pool: Pool, kind: string): Promise<number> {
  const r = await pool.query(
    `SELECT extract(epoch FROM finished_at - created_at) * 1000 AS ms FROM tasks WHERE kind = $1 AND finished_at IS NOT NULL`,
    [kind],
  );
  return percentile(
    r.rows.map((x) => Number(x.ms)),
    95,
  );
}

// ---------------------------------------------------------------- (a) no-op tasks
async function noopRun(workers: number) {
  const url = await benchDatabase(adminUrl);
  const dbName = new URL(url).pathname.slice(1);
  const pool = createPool({ connectionString: url, max: 4 });
  const dir = await mkdtemp(path.join(tmpdir(), 'imgkit-scale-'));
  const children = await Promise.all(
    Array.from({ length: workers }, (_, i) =>
      forkReady('bench/scale/noop-worker.ts', [url, path.join(dir, `ran-${i}.json`)], {}),
    ),
  );
  const ids = Array.from({ length: TASKS }, () => newId('task'));
  const [seconds, connections] = await withConnectionPeak(pool, dbName, async () => {
    const t0 = performance.now();
    await pool.query("INSERT INTO tasks (id, kind) SELECT unnest($1::text[]), 'noop'", [ids]);
    await pool.query("SELECT pg_notify('imgkit_tasks', 'noop')");
    await untilCount(pool, "SELECT count(*)::int AS n FROM tasks WHERE status = 'completed'", TASKS);
    return (performance.now() - t0) / 1000;
  });
  await stopAll(children);
  const ran: string[] = [];
  for (let i = 0; i < workers; i++)
    ran.push(...JSON.parse(await readFile(path.join(dir, `ran-${i}.json`), 'utf8')));
  const distinct = new Set(ran);
  const p95 = await taskLatencyP95(pool, 'noop');
  await pool.end();
  await rm(dir, { recursive: true, force: true });
  return {
    jobsPerSec: TASKS / seconds,
    p95,
    connections,
    lost: TASKS - [...distinct].filter((id) => ids.includes(id)).length,
    duplicated: ran.length - distinct.size,
  };
}

// ---------------------------------------------------------------- (b) photos
async function photoRun(workers: number, photos: { name: string; bytes: Buffer }[]) {
  const url = await benchDatabase(adminUrl);
  const dbName = new URL(url).pathname.slice(1);
  const bucket = `scale-${randomBytes(4).toString('hex')}`;
  await s3.createBucket(bucket);
  const store = s3Store(bucket);
  const pool = createPool({ connectionString: url, max: 8 });
  const account = await createAccount(pool, 'scale', randomBytes(24).toString('base64'));
  // The uploads are in the bucket before the clock starts: this measures the workers.
  const images = photos.map((p) => ({ id: newId('image'), ...p }));
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < images.length) {
        const img = images[next++];
        await store.putBuffer(originalKey(account.id, img.id), img.bytes);
      }
    }),
  );
  const children = await Promise.all(
    Array.from({ length: workers }, async () =>
      forkReady('apps/worker/src/main.ts', [], {
        DATABASE_URL: url,
        DATA_DIR: await mkdtemp(path.join(tmpdir(), 'imgkit-scale-worker-')),
        ...s3Env(bucket),
      }),
    ),
  );
  const notifier = new Notifier(pool);
  const ranks = new FairRanks(pool);
  const [seconds, connections] = await withConnectionPeak(pool, dbName, async () => {
    const t0 = performance.now();
    await Promise.all(
      images.map((img) =>
        createImage(
          { pool, storage: store, notifier, ranks, maxAttempts: 5, allowPrivateNetworks: false },
          {
            id: img.id,
            accountId: account.id,
            source: 'upload',
            url: null,
            filename: img.name,
            byteSize: img.bytes.length,
            checksum: createHash('sha256').update(img.bytes).digest('hex'),
            storageKey: originalKey(account.id, img.id),
            variants: ['thumbnail', 'medium'],
            extractMetadata: true,
            webhookUrl: null,
            passthrough: null,
          },
        ),
      ),
    );
    await untilCount(
      pool,
      "SELECT count(*)::int AS n FROM images WHERE status IN ('completed', 'failed')",
      images.length,
    );
    return (performance.now() - t0) / 1000;
  });
  await stopAll(children);
  const r = await pool.query(
    `SELECT count(*) FILTER (WHERE i.status = 'completed')::int AS completed, max(t.attempts)::int AS max_attempts
       FROM images i JOIN tasks t ON t.subject_id = i.id AND t.kind = 'process_image'`,
  );
  let variantObjects = 0;
  for await (const _ of store.list('variants/')) variantObjects++;
  const p95 = await taskLatencyP95(pool, 'process_image');
  store.close();
  await pool.end();
  return {
    imagesPerSec: images.length / seconds,
    p95,
    connections,
    completed: r.rows[0].completed,
    maxAttempts: r.rows[0].max_attempts,
    variantObjects,
  };
}

// ---------------------------------------------------------------- (c) api processes
async function apiRun(processes: number, totalConnections: number) {
  const url = await benchDatabase(adminUrl);
  const bucket = `scale-api-${randomBytes(4).toString('hex')}`;
  await s3.createBucket(bucket);
  const pool = createPool({ connectionString: url, max: 2 });
  const account = await createAccount(pool, 'scale', randomBytes(24).toString('base64'));
  const { key } = await createApiKey(pool, SECRET, account.id, 'bench');
  const apis = await Promise.all(
    Array.from({ length: processes }, async () => {
      const port = await freePort();
      const child = await forkReady('apps/api/src/main.ts', [], {
        DATABASE_URL: url,
        PORT: String(port),
        DATA_DIR: await mkdtemp(path.join(tmpdir(), 'imgkit-scale-api-')),
        RATE_LIMIT_PER_MINUTE: '0',
        ...s3Env(bucket),
      });
      return { child, port };
    }),
  );
  const body = JSON.stringify({ url: 'https://example.com/photos/cat.jpg', passthrough: { post: 42 } });
  const results = await Promise.all(
    apis.map(({ port }) =>
      autocannon({
        url: `http://127.0.0.1:${port}/v1/images`,
        method: 'POST',
        connections: Math.max(1, Math.round(totalConnections / processes)),
        duration: DURATION,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body,
      }),
    ),
  );
  await stopAll(apis.map((a) => a.child));
  const accepted = await pool.query('SELECT count(*)::int AS n FROM images');
  await pool.end();
  const ok = results.reduce((n, r) => n + r['2xx'], 0);
  return {
    reqPerSec: results.reduce((n, r) => n + r.requests.average, 0),
    p99: Math.max(...results.map((r) => r.latency.p99)),
    errors: results.reduce((n, r) => n + r.non2xx + r.errors, 0),
    ok,
    accepted: accepted.rows[0].n,
  };
}

// ---------------------------------------------------------------- (d) deep queue
async function deepRun(shape: 'empty' | 'pending' | 'finished') {
  const url = await benchDatabase(adminUrl);
  const pool = createPool({ connectionString: url, max: 4 });
  const drain = 20_000;
  if (shape !== 'empty') {
    // Behind the drained tasks (run_at later), or already finished, as a busy or unpruned queue.
    const status = shape === 'pending' ? 'pending' : 'completed';
    await pool.query(
      `INSERT INTO tasks (id, kind, status, run_at, finished_at)
       SELECT 'tsk_' || lpad(g::text, 27, '0'), 'noop', $1,
              now() + interval '1 hour' + g * interval '1 ms', CASE WHEN $1 = 'completed' THEN now() END
         FROM generate_series(1, $2) g`,
      [status, DEEP],
    );
  }
  const ids = Array.from({ length: drain }, () => newId('task'));
  await pool.query("INSERT INTO tasks (id, kind) SELECT unnest($1::text[]), 'noop'", [ids]);
  await pool.query('ANALYZE tasks');
  const dir = await mkdtemp(path.join(tmpdir(), 'imgkit-scale-'));
  const worker = await forkReady(
    'bench/scale/noop-worker.ts',
    [url, path.join(dir, 'ran.json'), String(drain)],
    {},
  );
  // The worker says when it has run all 20,000 (polling a count would scan the deep table).
  const drained = once(worker, 'message');
  const t0 = performance.now();
  await drained;
  const seconds = (performance.now() - t0) / 1000;
  await stopAll([worker]);
  await pool.end();
  await rm(dir, { recursive: true, force: true });
  return drain / seconds;
}

// ---------------------------------------------------------------- main
console.log(
  `# bench/scale: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}; ` +
    `one PostgreSQL, one S3 server (Swift s3api) on this machine; worker default concurrency ${availableParallelism()}`,
);
const photos = PARTS.has('workers') ? await photosOf(PHOTOS, 2) : [];
const rows: Record<string, string | number>[] = [];
let baseNoop = 0;
let basePhotos = 0;
for (const n of PARTS.has('workers') ? WORKERS : []) {
  const a = await noopRun(n);
  const b = await photoRun(n, photos);
  baseNoop ||= a.jobsPerSec;
  basePhotos ||= b.imagesPerSec;
  rows.push({
    workers: n,
    'no-op jobs/s': fmt(a.jobsPerSec),
    '×1': fmt(a.jobsPerSec / baseNoop, 2),
    'p95 ms': fmt(a.p95),
    'pg conns': a.connections,
    'lost/dup': `${a.lost}/${a.duplicated}`,
    'images/s': fmt(b.imagesPerSec, 1),
    '×1 ': fmt(b.imagesPerSec / basePhotos, 2),
    'p95 s': fmt(b.p95 / 1000, 1),
    'pg conns ': b.connections,
    'completed/variants/max att.': `${b.completed}/${b.variantObjects}/${b.maxAttempts}`,
  });
  console.log(table(rows.slice(-1)));
}
if (rows.length) {
  console.log(
    `\n## workers: ${TASKS} no-op tasks and ${PHOTOS} photos of 2 MP (2 variants each), STORAGE=s3\n`,
  );
  console.log(table(rows));
}

const apiRows: Record<string, string | number>[] = [];
for (const n of PARTS.has('api') ? [1, 2] : []) {
  const r = await apiRun(n, 20);
  apiRows.push({
    'api processes': n,
    'req/s': fmt(r.reqPerSec),
    'p99 ms': r.p99,
    'non-2xx + errors': r.errors,
    '2xx answered / rows written': `${r.ok}/${r.accepted}`,
  });
}
if (apiRows.length) {
  console.log(`\n## api: POST /v1/images (URL form), 20 connections in all, ${DURATION} s, STORAGE=s3\n`);
  console.log(table(apiRows));
}

if (PARTS.has('deep')) {
  const empty = await deepRun('empty');
  const pending = await deepRun('pending');
  const finished = await deepRun('finished');
  const n = DEEP.toLocaleString('en');
  console.log(`\n## the claim with a deep queue: one worker process drains 20,000 no-op tasks\n`);
  console.log(
    table([
      { table: 'only the 20,000', 'jobs/s': fmt(empty), 'vs empty': '1.00' },
      { table: `behind ${n} pending`, 'jobs/s': fmt(pending), 'vs empty': fmt(pending / empty, 2) },
      {
        table: `beside ${n} finished, unpruned`,
        'jobs/s': fmt(finished),
        'vs empty': fmt(finished / empty, 2),
      },
    ]),
  );
}
await s3.stop();
await stopPostgres();
