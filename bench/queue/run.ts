/**
 * bench/queue: imgkit's queue vs graphile-worker (defaults, and its high-throughput settings),
 * each contender in its own process, against the same PostgreSQL in the same run.
 *   (a) drain N queued no-op tasks at concurrency 10 — with current statistics (ANALYZE after
 *       the enqueue, as on any table that has run for a minute: the steady state), and on a
 *       fresh table without statistics; median of the repeats, interleaved. CPU µs/job counts
 *       the contender's process and every PostgreSQL process, from a clean CHECKPOINT to the VACUUM
 *       of its own garbage and the CHECKPOINT that writes its pages; its database is then dropped.
 *   (b) an idle worker, 20 warm-up tasks at the same pace (not counted: start-up), then 200
 *       tasks enqueued one at a time 20 ms apart: enqueue → start latency, once per repeat for
 *       every contender (rotating order, after a CHECKPOINT), pooled; beside them the machine's
 *       floor for that path (contender.ts `floor`: INSERT + NOTIFY, a one-row UPDATE by id).
 * BENCH_QUEUE_TASKS (20000), BENCH_REPEATS (3), BENCH_LATENCY_TASKS (200),
 * BENCH_LATENCY_WARM_UP (20), BENCH_DATABASE_URL.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createPool } from '@imgkit/db';
import { newId } from '@imgkit/ids';
import { Logger, makeWorkerUtils } from 'graphile-worker';
import pg from 'pg';
import { benchDatabase, benchPostgres, fmt, median, percentile, postgresCpuMs, table } from '../lib.ts';

const N = Number(process.env.BENCH_QUEUE_TASKS ?? 20_000);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const LATENCY_TASKS = Number(process.env.BENCH_LATENCY_TASKS ?? 200);
const CONTENDERS = ['imgkit', 'graphile', 'graphile-tuned'] as const;
const NAMES: Record<string, string> = {
  imgkit: 'imgkit',
  graphile: 'graphile-worker (defaults)',
  'graphile-tuned': 'graphile-worker (tuned)',
};
const script = fileURLToPath(new URL('./contender.ts', import.meta.url));
const quietGraphile = new Logger(() => () => {});

function child(args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    p.on('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(out.trim().split('\n').pop()!))
        : reject(new Error(`${args[0]} exited ${code}`)),
    );
  });
}

/** A database with N no-op tasks queued for `contender`, analysed or not. */
async function queued(adminUrl: string, contender: string, analyse: boolean): Promise<string> {
  if (contender === 'imgkit') {
    const url = await benchDatabase(adminUrl);
    const pool = createPool({ connectionString: url, max: 2 });
    const ids = Array.from({ length: N }, () => newId('task'));
    await pool.query("INSERT INTO tasks (id, kind) SELECT unnest($1::text[]), 'noop'", [ids]);
    if (analyse) await pool.query('ANALYZE tasks');
    await pool.end();
    return url;
  }
  const url = await benchDatabase(adminUrl, false);
  const utils = await makeWorkerUtils({ connectionString: url, logger: quietGraphile });
  await utils.migrate();
  for (let i = 0; i < N; i += 1000) {
    await utils.addJobs(
      Array.from({ length: Math.min(1000, N - i) }, () => ({ identifier: 'noop', payload: {} })),
    );
  }
  if (analyse)
    await utils.withPgClient((c) =>
      c.query('ANALYZE graphile_worker._private_jobs, graphile_worker._private_tasks'),
    );
  await utils.release();
  return url;
}

/**
 * What a drain costs, all of it: the cluster starts clean (CHECKPOINT: no contender pays for the
 * pages another one, or its own enqueue, left dirty), and after the drain the contender's own
 * garbage is collected (VACUUM of its database's tables) and its pages written (CHECKPOINT)
 * inside the measurement. Then its database is dropped, so no autovacuum of it lands in the
 * next contender's measurement.
 */
async function drain(adminUrl: string, contender: string, analyse: boolean) {
  const url = await queued(adminUrl, contender, analyse);
  const admin = new pg.Client({ connectionString: adminUrl });
  const own = new pg.Client({ connectionString: url });
  await admin.connect();
  await own.connect();
  const tables = (
    await own.query<{ t: string }>(
      `SELECT format('%I.%I', schemaname, relname) AS t FROM pg_stat_user_tables`,
    )
  ).rows.map((r) => r.t);
  await admin.query('CHECKPOINT');
  const pg0 = postgresCpuMs();
  const r = (await child([contender, 'drain', url, String(N)])) as { seconds: number; cpuMs: number };
  const pg1 = postgresCpuMs();
  await own.query(`VACUUM ${tables.join(', ')}`);
  await admin.query('CHECKPOINT');
  const pgMs = postgresCpuMs() - pg0;
  await own.end();
  await admin.query(`DROP DATABASE ${new URL(url).pathname.slice(1)}`);
  await admin.end();
  return {
    jobsPerSec: N / r.seconds,
    cpuUsPerJob: ((r.cpuMs + pgMs) * 1000) / N,
    workerUsPerJob: (r.cpuMs * 1000) / N,
    pgUsPerJob: (pgMs * 1000) / N,
    cleanupUsPerJob: ((pgMs - (pg1 - pg0)) * 1000) / N,
  };
}

const { adminUrl, stop } = await benchPostgres();
console.log(
  `# bench/queue: ${N} no-op tasks, concurrency 10, ${REPEATS} repeats, each contender in its own process; node ${process.version}`,
);
type Drained = {
  jobsPerSec: number;
  cpuUsPerJob: number;
  workerUsPerJob: number;
  pgUsPerJob: number;
  cleanupUsPerJob: number;
};
const results: Record<string, Record<string, Drained[]>> = {
  steady: {},
  fresh: {},
};
for (let r = 0; r < REPEATS; r++) {
  for (const state of ['steady', 'fresh'] as const) {
    // Interleaved, so a noisy moment hurts every contender alike, and in rotating order, so no
    // contender always follows the same one (whose dropped database and dirty pages came before).
    for (let k = 0; k < CONTENDERS.length; k++) {
      const c = CONTENDERS[(k + r) % CONTENDERS.length];
      const runs = results[state][c] ?? [];
      runs.push(await drain(adminUrl, c, state === 'steady'));
      results[state][c] = runs;
    }
  }
}
// Latency: every contender once per round, rotating which goes first, samples pooled; each
// phase starts after a CHECKPOINT, so none of them meets the writes the drains left behind.
// The floor (contender.ts) takes its turn among them.
const LATENCY = [...CONTENDERS, 'floor'];
const latencies: Record<string, number[]> = Object.fromEntries(LATENCY.map((c) => [c, [] as number[]]));
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
for (let r = 0; r < REPEATS; r++) {
  for (let k = 0; k < LATENCY.length; k++) {
    const c = LATENCY[(k + r) % LATENCY.length];
    const url = c === 'imgkit' ? await benchDatabase(adminUrl) : await benchDatabase(adminUrl, false);
    if (c.startsWith('graphile')) {
      const utils = await makeWorkerUtils({ connectionString: url, logger: quietGraphile });
      await utils.migrate();
      await utils.release();
    }
    await admin.query('CHECKPOINT');
    const out = (await child([c, 'latency', url, String(LATENCY_TASKS)])) as { latenciesMs: number[] };
    latencies[c].push(...out.latenciesMs);
  }
}
await admin.end();
for (const state of ['steady', 'fresh'] as const) {
  console.log(
    state === 'steady'
      ? '\n## steady state: the queue table has current statistics (ANALYZE after the enqueue)\n'
      : '\n## fresh table: bulk-enqueued and drained at once, no statistics\n',
  );
  console.log(
    table(
      CONTENDERS.map((c) => ({
        contender: NAMES[c],
        'jobs/s (median)': fmt(median(results[state][c].map((x) => x.jobsPerSec))),
        'CPU µs/job': fmt(median(results[state][c].map((x) => x.cpuUsPerJob))),
        'of it worker': fmt(median(results[state][c].map((x) => x.workerUsPerJob))),
        PostgreSQL: fmt(median(results[state][c].map((x) => x.pgUsPerJob))),
        'of it VACUUM + CHECKPOINT': fmt(median(results[state][c].map((x) => x.cleanupUsPerJob))),
        ...(state === 'steady'
          ? {
              'latency p50 ms': fmt(percentile(latencies[c], 50), 2),
              'p95 ms': fmt(percentile(latencies[c], 95), 2),
              'p99 ms': fmt(percentile(latencies[c], 99), 2),
            }
          : {}),
      })),
    ),
  );
  const jps = (c: string) => median(results[state][c].map((x) => x.jobsPerSec));
  const cpu = (c: string) => median(results[state][c].map((x) => x.cpuUsPerJob));
  console.log(
    `\nimgkit / graphile tuned: ${fmt(jps('imgkit') / jps('graphile-tuned'), 2)}× jobs/s, ` +
      `${fmt(cpu('imgkit') / cpu('graphile-tuned'), 2)}× CPU per job;   imgkit / graphile defaults: ` +
      `${fmt(jps('imgkit') / jps('graphile'), 2)}× jobs/s`,
  );
  if (state === 'steady') {
    const f = (p: number) => fmt(percentile(latencies.floor, p), 2);
    console.log(
      `latency floor of this machine (INSERT + NOTIFY, then a one-row UPDATE by id on the notification; no queue): ` +
        `p50 ${f(50)}  p95 ${f(95)}  p99 ${f(99)} ms`,
    );
  }
}
await stop();
