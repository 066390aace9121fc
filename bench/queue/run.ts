/**
 * bench/queue: our queue vs graphile-worker (defaults, and tuned for throughput)
 * against the same PostgreSQL in the same run.
 *   (a) drain N no-op tasks at concurrency 10, repeated; median jobs/s and CPU µs/job
 *       (worker process + PostgreSQL processes);
 *   (b) idle worker, 200 tasks enqueued one at a time 20 ms apart: enqueue→start latency.
 * BENCH_QUEUE_TASKS (default 20000), BENCH_REPEATS (3), BENCH_DATABASE_URL (else embedded).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createPool } from '@imgkit/db';
import { newId } from '@imgkit/ids';
import { enqueue, type QueueLogger, Worker } from '@imgkit/queue';
import { Logger, makeWorkerUtils, run } from 'graphile-worker';
import { benchDatabase, benchPostgres, fmt, median, percentile, postgresCpuMs, table } from '../lib.ts';

const N = Number(process.env.BENCH_QUEUE_TASKS ?? 20_000);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const CONCURRENCY = 10;
const LATENCY_TASKS = Number(process.env.BENCH_LATENCY_TASKS ?? 200);

const silent: QueueLogger = { info() {}, warn() {}, error() {}, debug() {}, child: () => silent };
const quietGraphile = new Logger(() => () => {});
const now = () => performance.timeOrigin + performance.now();

interface Drain {
  jobsPerSec: number;
  cpuUsPerJob: number;
}

async function measure(run: () => Promise<void>): Promise<Drain> {
  const cpu0 = process.cpuUsage();
  const pg0 = await postgresCpuMs();
  const t0 = performance.now();
  await run();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const pgMs = (await postgresCpuMs()) - pg0;
  return { jobsPerSec: N / seconds, cpuUsPerJob: (cpu.user + cpu.system + pgMs * 1000) / N };
}

async function drainOurs(adminUrl: string): Promise<Drain> {
  const url = await benchDatabase(adminUrl);
  const pool = createPool({ connectionString: url, max: CONCURRENCY + 4 });
  const ids = Array.from({ length: N }, () => newId('task'));
  await pool.query("INSERT INTO tasks (id, kind) SELECT unnest($1::text[]), 'noop'", [ids]);
  let count = 0;
  let finish!: () => void;
  const done = new Promise<void>((r) => {
    finish = r;
  });
  const worker = new Worker({
    pool,
    listenConnectionString: url,
    concurrency: CONCURRENCY,
    logger: silent,
    kinds: [{ kind: 'noop', handler: async () => void (++count === N && finish()) }],
  });
  const result = await measure(async () => {
    await worker.start();
    await done;
    await worker.stop(); // flushes the last completions
  });
  const left = await pool.query("SELECT count(*)::int AS n FROM tasks WHERE status <> 'completed'");
  if (left.rows[0].n !== 0) throw new Error(`${left.rows[0].n} tasks not completed`);
  await pool.end();
  return result;
}

async function drainGraphile(adminUrl: string, tuned: boolean): Promise<Drain> {
  const url = await benchDatabase(adminUrl, false);
  const utils = await makeWorkerUtils({ connectionString: url, logger: quietGraphile });
  await utils.migrate();
  for (let i = 0; i < N; i += 1000) {
    await utils.addJobs(
      Array.from({ length: Math.min(1000, N - i) }, () => ({ identifier: 'noop', payload: {} })),
    );
  }
  let count = 0;
  let finish!: () => void;
  const done = new Promise<void>((r) => {
    finish = r;
  });
  const result = await measure(async () => {
    const runner = await run({
      connectionString: url,
      concurrency: CONCURRENCY,
      noHandleSignals: true,
      logger: quietGraphile,
      taskList: { noop: async () => void (++count === N && finish()) },
      ...(tuned
        ? { preset: { worker: { localQueue: { size: CONCURRENCY }, completeJobBatchDelay: 0 } } }
        : {}),
    });
    await done;
    await runner.stop();
  });
  await utils.release();
  return result;
}

async function latencyOurs(adminUrl: string): Promise<number[]> {
  const url = await benchDatabase(adminUrl);
  const pool = createPool({ connectionString: url, max: CONCURRENCY + 4 });
  const latencies: number[] = [];
  const worker = new Worker({
    pool,
    listenConnectionString: url,
    concurrency: CONCURRENCY,
    logger: silent,
    kinds: [{ kind: 'probe', handler: async (p) => void latencies.push(now() - (p as { t: number }).t) }],
  });
  await worker.start();
  await sleep(200);
  for (let i = 0; i < LATENCY_TASKS; i++) {
    await enqueue(pool, 'probe', { t: now() });
    await sleep(20);
  }
  while (latencies.length < LATENCY_TASKS) await sleep(10);
  await worker.stop();
  await pool.end();
  return latencies;
}

async function latencyGraphile(adminUrl: string, tuned: boolean): Promise<number[]> {
  const url = await benchDatabase(adminUrl, false);
  const utils = await makeWorkerUtils({ connectionString: url, logger: quietGraphile });
  await utils.migrate();
  const latencies: number[] = [];
  const runner = await run({
    connectionString: url,
    concurrency: CONCURRENCY,
    noHandleSignals: true,
    logger: quietGraphile,
    taskList: { probe: async (p) => void latencies.push(now() - (p as { t: number }).t) },
    ...(tuned ? { preset: { worker: { localQueue: { size: CONCURRENCY }, completeJobBatchDelay: 0 } } } : {}),
  });
  await sleep(200);
  for (let i = 0; i < LATENCY_TASKS; i++) {
    await utils.addJob('probe', { t: now() });
    await sleep(20);
  }
  while (latencies.length < LATENCY_TASKS) await sleep(10);
  await runner.stop();
  await utils.release();
  return latencies;
}

async function main() {
  const { adminUrl, stop } = await benchPostgres();
  console.log(
    `# bench/queue: ${N} no-op tasks, concurrency ${CONCURRENCY}, ${REPEATS} repeats; node ${process.version}`,
  );
  const contenders = {
    imgkit: () => drainOurs(adminUrl),
    'graphile-worker (defaults)': () => drainGraphile(adminUrl, false),
    'graphile-worker (tuned)': () => drainGraphile(adminUrl, true),
  };
  const drains: Record<string, Drain[]> = {};
  for (let r = 0; r < REPEATS; r++) {
    // Interleaved, so a noisy moment hurts every contender alike.
    for (const [name, fn] of Object.entries(contenders)) {
      drains[name] = [...(drains[name] ?? []), await fn()];
    }
  }
  const latencies = {
    imgkit: await latencyOurs(adminUrl),
    'graphile-worker (defaults)': await latencyGraphile(adminUrl, false),
    'graphile-worker (tuned)': await latencyGraphile(adminUrl, true),
  };
  const rows = Object.keys(contenders).map((name) => {
    const d = drains[name];
    const l = latencies[name as keyof typeof latencies];
    return {
      contender: name,
      'jobs/s (median)': fmt(median(d.map((x) => x.jobsPerSec))),
      'CPU µs/job': fmt(median(d.map((x) => x.cpuUsPerJob))),
      'latency p50 ms': fmt(percentile(l, 50), 2),
      'p95 ms': fmt(percentile(l, 95), 2),
      'p99 ms': fmt(percentile(l, 99), 2),
    };
  });
  console.log(table(rows));
  const jps = (name: string) => median(drains[name].map((x) => x.jobsPerSec));
  console.log(
    `\nratio imgkit / graphile tuned: ${fmt(jps('imgkit') / jps('graphile-worker (tuned)'), 2)}×   ` +
      `imgkit / graphile defaults: ${fmt(jps('imgkit') / jps('graphile-worker (defaults)'), 2)}×`,
  );
  await stop();
}

await main();
