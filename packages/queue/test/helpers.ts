import { after } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from '@imgkit/db';
import { type QueueLogger, type TaskKindDefinition, Worker, type WorkerOptions } from '@imgkit/queue';

export const silentLogger: QueueLogger = {
  info() {},
  warn() {},
  error() {},
  debug() {},
  child: () => silentLogger,
};

// A test that fails before it stops its worker would leave the worker's timers and connections
// behind and the file would never exit: whatever is still running is stopped after the file.
const made = new Set<Worker>();
after(async () => {
  await Promise.all([...made].map((w) => w.stop(0)));
});

export function makeWorker(
  pool: Pool,
  url: string,
  kinds: TaskKindDefinition[],
  opts: Partial<WorkerOptions> = {},
) {
  const worker = new Worker({
    pool,
    listenConnectionString: url,
    concurrency: 4,
    pollIntervalMs: 200,
    leaseMs: 5000,
    logger: silentLogger,
    kinds,
    ...opts,
  });
  made.add(worker);
  return worker;
}

/** Polls `check` until it returns true; the limit only bounds a broken test, nothing asserts on time. */
export async function eventually(
  check: () => Promise<boolean>,
  what: string,
  limitMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(20);
  }
}

export async function statusCounts(pool: Pool, kind: string): Promise<Record<string, number>> {
  const r = await pool.query('SELECT status, count(*)::int AS n FROM tasks WHERE kind = $1 GROUP BY status', [
    kind,
  ]);
  return Object.fromEntries(r.rows.map((row) => [row.status, row.n]));
}
