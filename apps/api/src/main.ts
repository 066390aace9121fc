import type { Server } from 'node:http';
import path from 'node:path';
import { createPool, type Listener } from '@imgkit/db';
import { SafeFetcher } from '@imgkit/fetch';
import { listenForRenditionChanges } from '@imgkit/images';
import { createLogger } from '@imgkit/log';
import {
  createBlobStore,
  createMediaPool,
  loadConfigOrExit,
  migrateDatabase,
  onShutdownSignal,
  resolveDatabase,
} from '@imgkit/runtime';
import { DiskCache } from '@imgkit/storage';
import { createApp } from './app.ts';
import { problems } from './problem.ts';

async function main() {
  const config = loadConfigOrExit();
  const logger = createLogger({ name: 'api', level: config.LOG_LEVEL });
  const db = await resolveDatabase(config);
  await migrateDatabase(db.url, (m) => logger.debug(m));
  const pool = createPool({
    connectionString: db.url,
    max: config.DATABASE_POOL_MAX,
    applicationName: 'imgkit-api',
    // pg attaches the whole client to these errors: log what happened, not the client.
    onError: (err) =>
      logger.warn(
        { err: { message: err.message, code: (err as { code?: string }).code } },
        'idle database client error',
      ),
  });
  const storage = await createBlobStore(config);
  const cache = new DiskCache(path.join(config.dataDir, 'cache'), config.CACHE_MAX_BYTES, {
    maxBytes: config.CACHE_MEMORY_MAX_BYTES,
    maxItemBytes: Math.min(256 * 1024, config.CACHE_MEMORY_MAX_BYTES),
  });
  await cache.init();
  let shuttingDown = false;
  let renditions: Listener | undefined;
  // Signed-URL renders decode untrusted originals: in the media pool, not on this event loop.
  const media = createMediaPool(
    { ...config, MEDIA_THREADS: config.API_MEDIA_THREADS },
    { callsPerThread: config.API_MEDIA_CALLS_PER_THREAD },
  );
  const fetcher = new SafeFetcher({ allowPrivateNetworks: config.FETCH_ALLOW_PRIVATE_NETWORKS });
  const app = createApp({
    pool,
    storage,
    logger,
    secretKey: config.secretKey,
    limits: {
      jsonBodyBytes: config.JSON_BODY_LIMIT_BYTES,
      uploadBytes: config.MAX_UPLOAD_BYTES,
      inlineInputBytes: config.MAX_INLINE_INPUT_BYTES,
      passthroughBytes: config.MAX_PASSTHROUGH_BYTES,
      rateLimitPerMinute: config.RATE_LIMIT_PER_MINUTE,
      maxOutputSide: config.MAX_OUTPUT_SIDE,
    },
    images: {
      maxAttempts: config.PROCESS_IMAGE_MAX_ATTEMPTS,
      variantPresets: Object.keys(config.VARIANT_PRESETS),
    },
    originals: {
      delivery: config.ORIGINALS_DELIVERY,
      redirectTtlSeconds: config.ORIGINALS_REDIRECT_TTL_SECONDS,
    },
    jobs: { maxAttempts: config.RENDER_JOB_MAX_ATTEMPTS },
    allowPrivateNetworks: config.FETCH_ALLOW_PRIVATE_NETWORKS,
    signedUrls: {
      cache,
      keyId: config.URL_SIGNING_KEY_ID,
      keys: { ...config.URL_SIGNING_OLD_KEYS, [config.URL_SIGNING_KEY_ID]: config.urlSigningKey },
      render: (input, spec, options) => media.transform(input, spec, options),
      presets: config.urlPresets,
      presetsOnly: config.SIGNED_URLS_PRESETS_ONLY,
      proxyCacheSeconds: config.SIGNED_URLS_PROXY_CACHE_SECONDS,
      listen: (handlers) => {
        renditions = listenForRenditionChanges(db.url, logger, handlers);
        void renditions.start();
      },
    },
    webhooks: {
      secretRotationMs: config.WEBHOOK_SECRET_ROTATION_HOURS * 3600_000,
      deliveryMaxAttempts: config.WEBHOOK_RETRY_SCHEDULE.length,
    },
    search: {
      hashImage: async (bytes) => {
        const { extracted } = await media.processImage(bytes, { metadata: false, variants: [] });
        return { phash: extracted.phash, dhash: extracted.dhash };
      },
      fetchImage: async (url) => {
        const r = await fetcher.fetch(url, {
          maxBytes: config.MAX_DOWNLOAD_BYTES,
          timeoutMs: config.FETCH_TIMEOUT_MS,
        });
        if (r.status !== 200) throw problems.unprocessable('fetch_failed', `the URL answered ${r.status}`);
        return r.body;
      },
    },
    isShuttingDown: () => shuttingDown,
    authCacheMs: 5000,
  });
  // Under systemd socket activation the listening socket arrives as fd 3 (deploy/systemd).
  const activated = process.env.LISTEN_FDS === '1' && process.env.LISTEN_PID === String(process.pid);
  const server: Server = activated ? app.listen({ fd: 3 }) : app.listen(config.PORT, config.HOST);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  logger.info({ host: config.HOST, port }, 'api listening');
  process.send?.({ type: 'listening', port });
  // Started by `npm start`: if the supervisor dies (the IPC channel closes), shut down, and
  // exit for good if the drain takes longer than its deadline.
  process.on('disconnect', () => {
    process.kill(process.pid, 'SIGTERM');
    setTimeout(() => process.exit(1), config.WORKER_SHUTDOWN_TIMEOUT_MS + 5000).unref();
  });

  onShutdownSignal(
    async () => {
      shuttingDown = true;
      // Stop accepting, let in-flight requests finish, drop idle keep-alive sockets.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
      await renditions?.stop();
      await media.close();
      await fetcher.close();
      storage.close();
      await pool.end();
      await db.embedded?.stop();
      logger.info('api stopped');
    },
    (msg) => logger.info(msg),
  );
}

main().catch((err) => {
  process.stderr.write(`imgkit api: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
