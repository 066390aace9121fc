import path from 'node:path';
import { createPool, migrate } from '@imgkit/db';
import { SafeFetcher } from '@imgkit/fetch';
import { createLogger } from '@imgkit/log';
import { Worker } from '@imgkit/queue';
import { loadConfigOrExit, onShutdownSignal, resolveDatabase } from '@imgkit/runtime';
import { LocalBlobStore } from '@imgkit/storage';
import { taskKinds } from './tasks/index.ts';

async function main() {
  const config = loadConfigOrExit();
  const logger = createLogger({ name: 'worker', level: config.LOG_LEVEL });
  const db = await resolveDatabase(config);
  await migrate(db.url, (m) => logger.debug(m));
  const pool = createPool({
    connectionString: db.url,
    max: config.WORKER_CONCURRENCY + 4,
    applicationName: 'imgkit-worker',
    onError: (err) => logger.warn({ err }, 'idle database client error'),
  });
  const fetcher = new SafeFetcher({ allowPrivateNetworks: config.FETCH_ALLOW_PRIVATE_NETWORKS });
  const worker = new Worker({
    pool,
    listenConnectionString: config.WORKER_LISTEN ? db.url : undefined,
    kinds: taskKinds({
      config,
      pool,
      logger,
      storage: new LocalBlobStore(path.join(config.dataDir, 'blobs')),
      fetcher,
    }),
    concurrency: config.WORKER_CONCURRENCY,
    pollIntervalMs: config.WORKER_POLL_INTERVAL_MS,
    leaseMs: config.WORKER_LEASE_MS,
    retentionMs: config.TASK_RETENTION_HOURS * 3600_000,
    logger,
  });
  await worker.start();
  logger.info({ concurrency: config.WORKER_CONCURRENCY, listen: config.WORKER_LISTEN }, 'worker started');
  process.send?.({ type: 'ready' });

  const shutdown = async () => {
    await worker.stop(config.WORKER_SHUTDOWN_TIMEOUT_MS);
    await fetcher.close();
    await pool.end();
    await db.embedded?.stop();
    logger.info('worker stopped');
  };
  onShutdownSignal(shutdown, (msg) => logger.info(msg));
  // Started by `npm start`: if the supervisor dies, do not linger as an orphan.
  process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}

main().catch((err) => {
  process.stderr.write(
    `imgkit worker: failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exit(1);
});
