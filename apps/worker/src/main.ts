import { createServer, type Server } from 'node:http';
import { createPool } from '@imgkit/db';
import { SafeFetcher } from '@imgkit/fetch';
import { createLogger } from '@imgkit/log';
import { EventLoopDelay, Registry } from '@imgkit/metrics';
import { TaskError, Worker } from '@imgkit/queue';
import {
  createBlobStore,
  createMediaPool,
  loadConfigOrExit,
  migrateDatabase,
  onShutdownSignal,
  reportError,
  resolveDatabase,
} from '@imgkit/runtime';
import { startHousekeeping } from './housekeeping.ts';
import { taskSettings } from './settings.ts';
import { taskKinds } from './tasks/index.ts';

async function main() {
  const config = loadConfigOrExit();
  const logger = createLogger({ name: 'worker', level: config.LOG_LEVEL });
  const db = await resolveDatabase(config);
  await migrateDatabase(db.url, (m) => logger.debug(m));
  const pool = createPool({
    connectionString: db.url,
    max: config.WORKER_CONCURRENCY + 4,
    applicationName: 'imgkit-worker',
    // pg attaches the whole client to these errors: log what happened, not the client.
    onError: (err) =>
      logger.warn(
        { err: { message: err.message, code: (err as { code?: string }).code } },
        'idle database client error',
      ),
  });
  const storage = await createBlobStore(config);
  const registry = new Registry();
  const taskOutcomes = registry.counter(
    'imgkit_tasks_finished_total',
    'Tasks run by this worker, by kind and outcome',
  );
  const taskDuration = registry.histogram(
    'imgkit_task_duration_seconds',
    'Task run time by kind and outcome',
  );
  const stageDuration = registry.histogram(
    'imgkit_stage_duration_seconds',
    'Duration of download (fetch), extraction with variants in the media pool (extract), storing variants (render)',
  );
  const media = createMediaPool(config);
  const fetcher = new SafeFetcher({ allowPrivateNetworks: config.FETCH_ALLOW_PRIVATE_NETWORKS });
  const worker = new Worker({
    pool,
    listenConnectionString: config.WORKER_LISTEN ? db.url : undefined,
    kinds: taskKinds(
      {
        pool,
        storage,
        fetcher,
        media,
        observeStage: (stage, seconds) => stageDuration.observe({ stage }, seconds),
      },
      taskSettings(config),
    ),
    concurrency: config.WORKER_CONCURRENCY,
    pollIntervalMs: config.WORKER_POLL_INTERVAL_MS,
    leaseMs: config.WORKER_LEASE_MS,
    outageRetryMs: config.WORKER_OUTAGE_RETRY_MS,
    retentionMs: config.TASK_RETENTION_HOURS * 3600_000,
    logger,
    // A task that fails for good, or with an unexpected error, is worth a report; expected
    // retryable outcomes (a 503 from a source) are not.
    onTaskError: (task, err, outcome) => {
      if (outcome === 'failed' || !(err instanceof TaskError)) {
        reportError(err, { task: task.id, kind: task.kind, attempt: task.attempts, outcome });
      }
    },
    onTaskFinished: (task, outcome, ms) => {
      taskOutcomes.inc({ kind: task.kind, outcome });
      taskDuration.observe({ kind: task.kind, outcome }, ms / 1000);
    },
  });
  // Listening before "ready" (whoever started us may call it at once), and before the first
  // claim: a port in use stops the start with nothing claimed.
  const metricsServer = config.METRICS_HOST
    ? await serveMetrics(config.METRICS_HOST, registry, worker)
    : undefined;
  await worker.start();
  const housekeeping = startHousekeeping({
    pool,
    logger,
    webhookLogRetentionMs: config.WEBHOOK_LOG_RETENTION_HOURS * 3600_000,
  });
  logger.info({ concurrency: config.WORKER_CONCURRENCY, listen: config.WORKER_LISTEN }, 'worker started');
  process.send?.({ type: 'ready' });

  const shutdown = async () => {
    housekeeping.stop();
    await worker.stop(config.WORKER_SHUTDOWN_TIMEOUT_MS);
    metricsServer?.close();
    await fetcher.close();
    await media.close();
    storage.close();
    await pool.end();
    await db.embedded?.stop();
    logger.info('worker stopped');
  };
  onShutdownSignal(shutdown, (msg) => logger.info(msg));
  // Started by `npm start`: if the supervisor dies (the IPC channel closes), shut down, and
  // exit for good if the drain takes longer than its deadline.
  process.on('disconnect', () => {
    process.kill(process.pid, 'SIGTERM');
    setTimeout(() => process.exit(1), config.WORKER_SHUTDOWN_TIMEOUT_MS + 5000).unref();
  });
}

/** METRICS_HOST=host:port: this worker's own /metrics (task outcomes and durations) and /concurrency. */
async function serveMetrics(hostPort: string, registry: Registry, worker: Worker): Promise<Server> {
  const i = hostPort.lastIndexOf(':');
  const loop = new EventLoopDelay();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://worker');
    // The operator's knob (this listener is for the host, like /metrics): GET reads the
    // number of task slots, POST ?value=N changes it without a restart or a dropped task.
    if (url.pathname === '/concurrency') {
      if (req.method === 'POST') {
        try {
          worker.setConcurrency(Number(url.searchParams.get('value')));
        } catch (err) {
          return res.writeHead(400, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`);
        }
      }
      return res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(`${JSON.stringify({ concurrency: worker.concurrency })}\n`);
    }
    if (url.pathname !== '/metrics') return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(registry.render([loop.render()]));
  });
  // A port in use ends the start with its error (below), not with an unhandled 'error' event.
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(hostPort.slice(i + 1)), hostPort.slice(0, i) || '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

main().catch((err) => {
  process.stderr.write(
    `imgkit worker: failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exit(1);
});
