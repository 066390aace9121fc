/**
 * bench/concurrency: seed 000's table, for imgkit. 50 resize jobs (cover 200×200, JPEG) go
 * through the real api and the real worker process at WORKER_CONCURRENCY 1, 2, 4, 8, 16;
 * each row: wall time from the first POST /v1/jobs to the last job completed, jobs/s, and the
 * worker process's peak RSS (VmHWM: its media threads included). On a machine with N cores the
 * rate should flatten at about N: more slots than cores only queue decodes in the media pool.
 *
 * Then, with one worker started at concurrency 1, the same 50 jobs while its concurrency is
 * raised to 8 half-way through over METRICS_HOST's POST /concurrency (no restart): the row shows
 * every job completed, none failed, each exactly once.
 *
 * Each row gets a fresh database and blob folder; the source photos (10 generated 12 MP JPEGs)
 * are uploaded before the clock starts. BENCH_DATABASE_URL (else embedded),
 * BENCH_CONCURRENCY_LEVELS (1,2,4,8,16), BENCH_CONCURRENCY_JOBS (50).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createAccount, createApiKey } from '@imgkit/auth';
import { createPool, type Pool } from '@imgkit/db';
import { benchDatabase, benchPostgres, fmt, freePort, table } from '../lib.ts';
import { photosOf } from '../photos.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SECRET = 'bench-secret-key-that-is-long-enough-0123456789';
const LEVELS = (process.env.BENCH_CONCURRENCY_LEVELS ?? '1,2,4,8,16').split(',').map(Number);
const JOBS = Number(process.env.BENCH_CONCURRENCY_JOBS ?? 50);

const { adminUrl, stop: stopPostgres } = await benchPostgres();

async function start(script: string, env: Record<string, string>): Promise<[ChildProcess, unknown]> {
  const child = fork(path.join(root, script), [], {
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      SECRET_KEY: SECRET,
      URL_SIGNING_KEY: SECRET,
      FETCH_ALLOW_PRIVATE_NETWORKS: 'true',
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
  return [child, msg];
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

/** Peak resident set of a process so far (kB → MB), from the kernel's high-water mark. */
async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

async function until(pool: Pool, want: number, limitMs = 900_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const r = await pool.query(
      "SELECT count(*) FILTER (WHERE status IN ('completed','failed'))::int AS n FROM jobs",
    );
    if (r.rows[0].n >= want) return;
    if (Date.now() > deadline) throw new Error(`timed out at ${r.rows[0].n}/${want} jobs`);
    await sleep(20);
  }
}

const photos = await photosOf(10, 12);

async function run(concurrency: number, raiseTo?: number) {
  const url = await benchDatabase(adminUrl);
  const dataDir = path.join(
    tmpdir(),
    `imgkit-bench-concurrency-${process.pid}-${concurrency}-${raiseTo ?? 0}`,
  );
  const pool = createPool({ connectionString: url, max: 4 });
  const account = await createAccount(pool, 'bench');
  const { key } = await createApiKey(pool, SECRET, account.id);
  const auth = { Authorization: `Bearer ${key}` };
  const common = { DATABASE_URL: url, DATA_DIR: dataDir, RATE_LIMIT_PER_MINUTE: '0' };
  const [api, ready] = await start('apps/api/src/main.ts', { ...common, PORT: '0' });
  const base = `http://127.0.0.1:${(ready as { port: number }).port}`;
  const metricsPort = await freePort();
  const [worker] = await start('apps/worker/src/main.ts', {
    ...common,
    WORKER_CONCURRENCY: String(concurrency),
    METRICS_HOST: `127.0.0.1:${metricsPort}`,
  });
  try {
    // The sources, stored and processed before the clock starts.
    const ids: string[] = [];
    for (const p of photos) {
      const res = await fetch(`${base}/v1/images?filename=${p.name}`, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'image/jpeg' },
        body: p.bytes,
      });
      ids.push(((await res.json()) as { id: string }).id);
    }
    for (;;) {
      const r = await pool.query("SELECT count(*)::int AS n FROM images WHERE status = 'completed'");
      if (r.rows[0].n === ids.length) break;
      await sleep(50);
    }
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: JOBS }, async (_, i) => {
        const res = await fetch(`${base}/v1/jobs`, {
          method: 'POST',
          headers: { ...auth, 'Content-Type': 'application/json' },
          body: JSON.stringify({
            image_id: ids[i % ids.length],
            operation: 'cover',
            width: 200,
            height: 200,
            output_format: 'jpeg',
          }),
        });
        if (res.status !== 202 && res.status !== 201) throw new Error(`POST /v1/jobs: ${res.status}`);
      }),
    );
    if (raiseTo) {
      await until(pool, Math.floor(JOBS / 2));
      const res = await fetch(`http://127.0.0.1:${metricsPort}/concurrency?value=${raiseTo}`, {
        method: 'POST',
      });
      if (!res.ok) throw new Error(`POST /concurrency: ${res.status}`);
    }
    await until(pool, JOBS);
    const seconds = (performance.now() - t0) / 1000;
    const outcome = await pool.query(
      `SELECT count(*) FILTER (WHERE status = 'completed')::int AS completed,
              count(*) FILTER (WHERE status = 'failed')::int AS failed,
              max(attempts)::int AS max_attempts FROM jobs`,
    );
    const ran = await pool.query(
      "SELECT count(*)::int AS n FROM tasks WHERE kind = 'render_job' AND status = 'completed'",
    );
    return {
      seconds,
      jobsPerSec: JOBS / seconds,
      rssMb: await peakRssMb(worker.pid!),
      ...outcome.rows[0],
      tasksRun: ran.rows[0].n,
    };
  } finally {
    await stop(worker);
    await stop(api);
    await pool.end();
  }
}

console.log(
  `bench/concurrency: ${JOBS} cover 200×200 jobs from ${photos.length} 12 MP JPEGs, real api + worker; ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'})`,
);
const rows: Record<string, string | number>[] = [];
for (const c of LEVELS) {
  const r = await run(c);
  rows.push({
    WORKER_CONCURRENCY: c,
    'duration s': fmt(r.seconds, 2),
    'jobs/s': fmt(r.jobsPerSec, 2),
    'worker peak RSS MB': fmt(r.rssMb),
    'completed/failed': `${r.completed}/${r.failed}`,
  });
  console.log(table(rows.slice(-1)));
}
console.log(`\n${table(rows)}`);
const raised = await run(1, 8);
console.log(
  `\nconcurrency 1 → 8 at runtime (POST /concurrency half-way, no restart): ${fmt(raised.seconds, 2)} s, ${fmt(raised.jobsPerSec, 2)} jobs/s; completed ${raised.completed}, failed ${raised.failed}, render tasks run ${raised.tasksRun}, max attempts ${raised.max_attempts}`,
);
await stopPostgres();
