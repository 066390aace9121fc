/**
 * One contender of bench/queue in its own process, so no contender shares an event loop, a
 * heap or a pool with another. The parent prepares the database (and its statistics) and
 * measures PostgreSQL's CPU; this process runs the worker and reports its own CPU.
 *
 *   node bench/queue/contender.ts <imgkit|graphile|graphile-tuned|floor> <drain|latency> <url> <n>
 *
 * drain: the tasks are already queued; run them all, report {seconds, cpuMs}.
 * latency: start idle, run one warm-up task (not counted), then enqueue one task every 20 ms
 * (through the library's own enqueue) and report each task's enqueue → start delay, {latenciesMs}.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createPool } from '@imgkit/db';
import { enqueue, type QueueLogger, Worker } from '@imgkit/queue';
import { Logger, makeWorkerUtils, run } from 'graphile-worker';
import pg from 'pg';

const [contender, mode, url, count] = process.argv.slice(2);
const N = Number(count);
const CONCURRENCY = 10;
const silent: QueueLogger = { info() {}, warn() {}, error() {}, debug() {}, child: () => silent };
const quietGraphile = new Logger(() => () => {});
const now = () => performance.timeOrigin + performance.now();
/**
 * graphile-worker's high-throughput settings, as its performance page configures them: a local
 * queue of 500 that fetches jobs in batches, and completions and failures batched (0 ms: within
 * one tick). (Its page also runs 24 concurrent jobs; here every contender runs 10.)
 */
const TUNED = { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } };

type Start = (
  onTask: (payload: unknown) => void,
) => Promise<{ stop: () => Promise<void>; add: (p: object) => Promise<void> }>;

const starters: Record<string, Start> = {
  imgkit: async (onTask) => {
    const pool = createPool({ connectionString: url, max: CONCURRENCY + 4 });
    const worker = new Worker({
      pool,
      listenConnectionString: url,
      concurrency: CONCURRENCY,
      logger: silent,
      kinds: [{ kind: 'noop', handler: async (p) => onTask(p) }],
    });
    await worker.start();
    return {
      stop: async () => {
        await worker.stop();
        await pool.end();
      },
      add: async (p) => void (await enqueue(pool, 'noop', p)),
    };
  },
  // Not a queue: the floor of waking by notification and claiming with a write, on this machine
  // (latency mode only). One INSERT that NOTIFYs with the new row's id (synchronous commit, as
  // any durable enqueue), and on the notification one UPDATE of that row by its primary key,
  // committed asynchronously (as our claim), on a connection of its own. No order, fairness,
  // lease or pool: what is left between enqueue and start when a queue does nothing else.
  floor: async (onTask) => {
    const connect = async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      return c;
    };
    const [listen, claim, add] = [await connect(), await connect(), await connect()];
    await add.query(
      'CREATE TABLE floor_tasks (id bigserial PRIMARY KEY, claimed boolean NOT NULL DEFAULT false, payload jsonb)',
    );
    await listen.query('LISTEN floor_tasks');
    listen.on('notification', (n) => {
      claim
        .query({
          name: 'claim',
          text: `UPDATE floor_tasks SET claimed = true
                 WHERE id = $1 AND NOT claimed AND set_config('synchronous_commit', 'off', true) = 'off'
                 RETURNING payload`,
          values: [n.payload],
        })
        .then((r) => {
          for (const row of r.rows) onTask(row.payload);
        });
    });
    return {
      stop: async () => {
        for (const c of [listen, claim, add]) await c.end();
      },
      add: async (p) =>
        void (await add.query({
          name: 'add',
          text: `WITH t AS (INSERT INTO floor_tasks (payload) VALUES ($1) RETURNING id)
                 SELECT pg_notify('floor_tasks', id::text) FROM t`,
          values: [p],
        })),
    };
  },
  graphile: (onTask) => startGraphile(onTask, false),
  'graphile-tuned': (onTask) => startGraphile(onTask, true),
};

async function startGraphile(onTask: (p: unknown) => void, tuned: boolean) {
  const utils = await makeWorkerUtils({ connectionString: url, logger: quietGraphile });
  const runner = await run({
    connectionString: url,
    concurrency: CONCURRENCY,
    noHandleSignals: true,
    logger: quietGraphile,
    taskList: { noop: async (p) => onTask(p) },
    ...(tuned ? { preset: TUNED } : {}),
  });
  return {
    stop: async () => {
      await runner.stop();
      await utils.release();
    },
    add: async (p: object) => void (await utils.addJob('noop', p)),
  };
}

const cpu0 = process.cpuUsage();
if (mode === 'drain') {
  let done = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => {
    finish = r;
  });
  const t0 = performance.now();
  const handle = await starters[contender](() => void (++done === N && finish()));
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  await handle.stop(); // flushes the last completions: part of the cost
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(`${JSON.stringify({ seconds, cpuMs: (cpu.user + cpu.system) / 1000 })}\n`);
} else {
  const latencies: number[] = [];
  const handle = await starters[contender]((p) => void latencies.push(now() - (p as { t: number }).t));
  // WARM_UP tasks first at the same pace, not counted: they pay for opening the pool's
  // connections, preparing each statement on each connection it lands on, and code running for
  // the first time (5–70 ms for the first tasks, every contender alike): start-up, not the
  // queue's latency. With one, the second sample of every run still took 5–12 ms.
  const WARM_UP = Number(process.env.BENCH_LATENCY_WARM_UP ?? 20);
  for (let i = 0; i < WARM_UP; i++) {
    await handle.add({ t: now() });
    await sleep(20);
  }
  while (latencies.length < WARM_UP) await sleep(5);
  latencies.length = 0;
  await sleep(300);
  for (let i = 0; i < N; i++) {
    await handle.add({ t: now() });
    await sleep(20);
  }
  while (latencies.length < N) await sleep(10);
  await handle.stop();
  process.stdout.write(`${JSON.stringify({ latenciesMs: latencies })}\n`);
}
process.exit(0);
