import { after } from 'node:test';
import { type Config, loadConfig } from '@imgkit/config';
import type { Pool } from '@imgkit/db';
import { SafeFetcher } from '@imgkit/fetch';
import { createLogger } from '@imgkit/log';
import { Worker } from '@imgkit/queue';
import { createMediaPool } from '@imgkit/runtime';
import type { BlobStore } from '@imgkit/storage';
import { taskSettings } from '@imgkit/worker/settings';
import { taskKinds } from '@imgkit/worker/tasks';
import { startApi, TEST_SECRET, type TestApi } from './api.ts';

export interface Pipeline {
  api: TestApi;
  config: Readonly<Config>;
  worker: Worker;
  /** Resolves when every given image is completed or failed. */
  settle(ids: string[], limitMs?: number): Promise<void>;
}

/**
 * API + an in-process worker with the real task handlers, sharing one database and blob store
 * (or, with `workerStorage`, each with its own client of one bucket, as on two machines).
 */
export async function startPipeline(
  pool: Pool,
  url: string,
  env: Record<string, string> = {},
  apiOverrides: Parameters<typeof startApi>[1] = {},
  options: { workerStorage?: BlobStore } = {},
): Promise<Pipeline> {
  const api = await startApi(pool, {
    uploadBytes: 64 * 1024 * 1024,
    processImageMaxAttempts: Number(env.PROCESS_IMAGE_MAX_ATTEMPTS ?? 5),
    ...apiOverrides,
  });
  const config = loadConfig({
    SECRET_KEY: TEST_SECRET,
    URL_SIGNING_KEY: TEST_SECRET,
    DATABASE_URL: url,
    DATA_DIR: api.blobRoot,
    FETCH_ALLOW_PRIVATE_NETWORKS: 'true',
    WORKER_CONCURRENCY: '2',
    ...env,
  });
  const logger = createLogger({ name: 'worker-test', level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const media = createMediaPool(config);
  const fetcher = new SafeFetcher({ allowPrivateNetworks: config.FETCH_ALLOW_PRIVATE_NETWORKS });
  const worker = new Worker({
    pool,
    listenConnectionString: url,
    kinds: taskKinds(
      { pool, storage: options.workerStorage ?? api.storage, fetcher, media },
      taskSettings(config),
    ),
    outageRetryMs: config.WORKER_OUTAGE_RETRY_MS,
    concurrency: config.WORKER_CONCURRENCY,
    pollIntervalMs: 200,
    leaseMs: 30_000,
    logger,
  });
  await worker.start();
  after(async () => {
    await worker.stop(1000);
    await fetcher.close();
    await media.close();
  });
  return {
    api,
    config,
    worker,
    async settle(ids, limitMs = 120_000) {
      const deadline = Date.now() + limitMs;
      for (;;) {
        const r = await pool.query(
          "SELECT count(*)::int AS n FROM images WHERE id = ANY($1) AND status IN ('completed', 'failed')",
          [ids],
        );
        if (r.rows[0].n === ids.length) return;
        if (Date.now() > deadline) throw new Error(`images did not settle: ${r.rows[0].n}/${ids.length}`);
        await new Promise((res) => setTimeout(res, 50));
      }
    },
  };
}
