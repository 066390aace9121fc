/**
 * One worker process of bench/scale: imgkit's Worker at its default concurrency (one slot per
 * core, as WORKER_CONCURRENCY defaults) running `noop` tasks. On SIGTERM it drains, writes the
 * ids of the tasks it ran to the file given, and exits: the bench counts effects across
 * processes (none lost, none run twice).
 */
import { writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { createPool } from '@imgkit/db';
import { type QueueLogger, Worker } from '@imgkit/queue';

const [url, out, target] = process.argv.slice(2);
const silent: QueueLogger = { info() {}, warn() {}, error() {}, debug() {}, child: () => silent };
const concurrency = availableParallelism();
const pool = createPool({ connectionString: url, max: concurrency + 4, applicationName: 'imgkit-worker' });
const ran: string[] = [];
const worker = new Worker({
  pool,
  listenConnectionString: url,
  concurrency,
  logger: silent,
  kinds: [
    {
      kind: 'noop',
      handler: async (_payload, ctx) => {
        // Told how many to expect, it says when it has run them: the bench need not poll.
        if (ran.push(ctx.task.id) === Number(target)) process.send?.({ type: 'drained' });
      },
    },
  ],
});
await worker.start();
process.send?.({ type: 'ready' });
process.once('SIGTERM', async () => {
  await worker.stop(10_000);
  await writeFile(out, JSON.stringify(ran));
  await pool.end();
  process.exit(0);
});
