import type { Pool } from '@imgkit/db';
import type { RenditionHandlers } from '@imgkit/images';
import type { Logger } from '@imgkit/log';
import { Registry } from '@imgkit/metrics';
import { FairRanks, Notifier } from '@imgkit/queue';
import { reportError } from '@imgkit/runtime';
import type { BlobStore, DiskCache } from '@imgkit/storage';
import type { UrlPreset } from '@imgkit/urls';
import express, { type Express } from 'express';
import { accessLog } from './middleware/access-log.ts';
import { requireApiKey } from './middleware/auth.ts';
import { rateLimit } from './middleware/rate-limit.ts';
import { createOpenApiRegistry } from './openapi.ts';
import { problemErrorHandler, problems } from './problem.ts';
import { accountRouter } from './routes/account.ts';
import { consoleRouter } from './routes/console.ts';
import { docsRouter } from './routes/docs.ts';
import { healthRouter } from './routes/health.ts';
import { imagesRouter } from './routes/images/index.ts';
import { type SearchDeps, searchImagesRoute } from './routes/images/search.ts';
import { jobsRouter } from './routes/jobs/index.ts';
import { metricsRouter } from './routes/metrics.ts';
import { type RenderFn, signedImagesRouter } from './routes/signed-images.ts';
import { tasksRouter } from './routes/tasks.ts';
import { webhooksRouter } from './routes/webhooks/index.ts';

/** Everything the HTTP surface needs, built once by main() from the configuration. */
export interface AppDeps {
  pool: Pool;
  storage: BlobStore;
  logger: Logger;
  secretKey: string;
  limits: {
    jsonBodyBytes: number;
    uploadBytes: number;
    /** Inline (base64) job inputs: parsed JSON is held in memory several times over. */
    inlineInputBytes: number;
    passthroughBytes: number;
    rateLimitPerMinute: number;
    maxOutputSide: number;
  };
  images: { maxAttempts: number; variantPresets: readonly string[] };
  /** GET …/original: streamed through this process, or a 302 to a presigned S3 URL. */
  originals: { delivery: 'proxy' | 'redirect'; redirectTtlSeconds: number };
  jobs: { maxAttempts: number };
  /** FETCH_ALLOW_PRIVATE_NETWORKS: also governs which source and webhook URLs are accepted. */
  allowPrivateNetworks: boolean;
  webhooks: { secretRotationMs: number; deliveryMaxAttempts: number };
  /** POST /v1/images/search with an image: hashing in the media pool, fetching through the guard. */
  search?: Pick<SearchDeps, 'hashImage' | 'fetchImage'>;
  signedUrls?: {
    cache: DiskCache;
    keyId: string;
    keys: Record<string, string>;
    render: RenderFn;
    presets: Readonly<Record<string, UrlPreset>>;
    presetsOnly: boolean;
    proxyCacheSeconds: number;
    /** Subscribes to purges and deletions from every api process (PostgreSQL LISTEN). */
    listen?: (handlers: RenditionHandlers) => void;
  };
  isShuttingDown: () => boolean;
  /** How long a valid API key is remembered per process (a revocation takes up to this long). */
  authCacheMs: number;
}

/** The whole HTTP surface, with no listening socket, so tests can start it on port 0. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', 'loopback');
  app.set('query parser', 'simple');

  app.use(accessLog(deps.logger));
  const registry = new Registry();
  const httpDuration = registry.histogram(
    'imgkit_http_request_duration_seconds',
    'HTTP latency by route template',
  );
  app.use((req, res, next) => {
    const started = performance.now();
    res.on('finish', () => {
      // The matched route's template (never the raw path: ids would explode the series).
      const route = req.route?.path ? `${req.baseUrl}${req.route.path}` : 'unmatched';
      httpDuration.observe(
        { method: req.method, route, status: String(res.statusCode) },
        (performance.now() - started) / 1000,
      );
    });
    next();
  });
  const signed = deps.signedUrls
    ? signedImagesRouter({
        pool: deps.pool,
        storage: deps.storage,
        cache: deps.signedUrls.cache,
        signingKeyId: deps.signedUrls.keyId,
        signingKeys: deps.signedUrls.keys,
        maxOutputSide: deps.limits.maxOutputSide,
        render: deps.signedUrls.render,
        presets: deps.signedUrls.presets,
        presetsOnly: deps.signedUrls.presetsOnly,
        proxyCacheSeconds: deps.signedUrls.proxyCacheSeconds,
        listen: deps.signedUrls.listen,
      })
    : undefined;
  // Signed image URLs carry their own authorisation (the signature), not an API key.
  if (signed) app.use(signed.publicRouter);

  const onError = (err: unknown) => {
    deps.logger.error({ err }, 'unexpected error');
    reportError(err);
  };
  app.use(
    '/v1',
    requireApiKey({ pool: deps.pool, secretKey: deps.secretKey, onError, cacheMs: deps.authCacheMs }),
  );
  app.use('/v1', rateLimit({ pool: deps.pool, perMinute: deps.limits.rateLimitPerMinute }));
  // JSON is UTF-8 (RFC 8259). The raw bytes are kept, without a BOM: passthrough is returned
  // exactly as sent, and idempotency hashes the body.
  const keepRawBody = (req: unknown, _res: unknown, buf: Buffer, encoding: string) => {
    if (!/^utf-?8$/i.test(encoding)) {
      throw Object.assign(new Error(`send JSON as UTF-8 (got charset ${encoding})`), {
        status: 415,
        type: 'charset.unsupported',
      });
    }
    const bom = buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf;
    (req as { rawBody?: Buffer }).rawBody = bom ? buf.subarray(3) : buf;
  };
  // Jobs may carry the image inline (base64), so their JSON limit follows MAX_INLINE_INPUT_BYTES.
  app.use(
    '/v1/jobs',
    express.json({
      limit: Math.ceil((deps.limits.inlineInputBytes * 4) / 3) + 64 * 1024,
      verify: keepRawBody,
    }),
  );
  // A search may carry the image inline (base64), as a job may.
  app.use(
    '/v1/images/search',
    express.json({
      limit: Math.ceil((deps.limits.inlineInputBytes * 4) / 3) + 64 * 1024,
      verify: keepRawBody,
    }),
  );
  app.use('/v1', express.json({ limit: deps.limits.jsonBodyBytes, verify: keepRawBody }));
  if (deps.search) {
    app.use(
      searchImagesRoute({
        pool: deps.pool,
        maxUploadBytes: deps.limits.inlineInputBytes,
        ...deps.search,
      }),
    );
  }
  app.use(
    imagesRouter({
      pool: deps.pool,
      storage: deps.storage,
      notifier: new Notifier(deps.pool),
      ranks: new FairRanks(deps.pool),
      maxAttempts: deps.images.maxAttempts,
      allowPrivateNetworks: deps.allowPrivateNetworks,
      maxUploadBytes: deps.limits.uploadBytes,
      maxPassthroughBytes: deps.limits.passthroughBytes,
      variantPresets: deps.images.variantPresets,
      originals: deps.originals,
    }),
  );
  app.use(
    jobsRouter({
      pool: deps.pool,
      storage: deps.storage,
      maxAttempts: deps.jobs.maxAttempts,
      maxInputBytes: deps.limits.inlineInputBytes,
      allowPrivateNetworks: deps.allowPrivateNetworks,
      maxPassthroughBytes: deps.limits.passthroughBytes,
      maxOutputSide: deps.limits.maxOutputSide,
    }),
  );
  if (signed) app.use(signed.apiRouter);
  app.use(accountRouter({ pool: deps.pool }));
  app.use(tasksRouter({ pool: deps.pool }));
  app.use(
    webhooksRouter({
      pool: deps.pool,
      allowPrivateNetworks: deps.allowPrivateNetworks,
      secretRotationMs: deps.webhooks.secretRotationMs,
      deliveryMaxAttempts: deps.webhooks.deliveryMaxAttempts,
    }),
  );

  // Everything outside /v1 comes after it: the API's requests are the many, and each layer
  // in front of them is one more match per request.
  app.use(healthRouter({ pool: deps.pool, storage: deps.storage, isShuttingDown: deps.isShuttingDown }));
  app.use(metricsRouter({ pool: deps.pool, registry }));
  app.use(docsRouter(createOpenApiRegistry()));
  app.use(consoleRouter());

  app.use((req, _res, next) => next(problems.notFound(`No route ${req.method} ${req.path}.`)));
  app.use(problemErrorHandler(onError));
  return app;
}
