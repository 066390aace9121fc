import type { Pool } from '@imgkit/db';
import type { Logger } from '@imgkit/log';
import type { BlobStore } from '@imgkit/storage';
import express, { type Express } from 'express';
import { pinoHttp } from 'pino-http';
import { requireApiKey } from './middleware/auth.ts';
import { rateLimit } from './middleware/rate-limit.ts';
import { requestIdFor } from './middleware/request-id.ts';
import { problemErrorHandler, problems } from './problem.ts';
import { docsRouter } from './routes/docs.ts';
import { healthRouter } from './routes/health.ts';
import { imagesRouter } from './routes/images.ts';
import { webhooksRouter } from './routes/webhooks.ts';

export interface AppDeps {
  pool: Pool;
  storage: BlobStore;
  logger: Logger;
  secretKey: string;
  limits: {
    jsonBodyBytes: number;
    uploadBytes: number;
    passthroughBytes: number;
    rateLimitPerMinute: number;
    processImageMaxAttempts?: number;
  };
  variantPresets: readonly string[];
  /** FETCH_ALLOW_PRIVATE_NETWORKS: also governs which webhook URLs are accepted. */
  allowPrivateNetworks?: boolean;
  webhooks?: { secretRotationMs: number; deliveryMaxAttempts: number };
  isShuttingDown?: () => boolean;
}

/** The whole HTTP surface, with no listening socket, so tests can start it on port 0. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', 'loopback');
  app.set('query parser', 'simple');

  app.use(
    pinoHttp({
      logger: deps.logger,
      genReqId: requestIdFor,
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
      serializers: {
        req: (req) => ({ id: req.id, method: req.method, url: req.url }),
        res: (res) => ({ statusCode: res.statusCode }),
      },
    }),
  );
  app.use(healthRouter({ pool: deps.pool, isShuttingDown: deps.isShuttingDown ?? (() => false) }));
  app.use(docsRouter());

  const onError = (err: unknown) => deps.logger.error({ err }, 'unexpected error');
  app.use('/v1', requireApiKey({ pool: deps.pool, secretKey: deps.secretKey, onError }));
  app.use('/v1', rateLimit({ pool: deps.pool, perMinute: deps.limits.rateLimitPerMinute }));
  app.use(
    '/v1',
    express.json({
      limit: deps.limits.jsonBodyBytes,
      // Keep the raw bytes: passthrough is returned exactly as sent, and idempotency hashes the body.
      verify: (req, _res, buf) => {
        (req as typeof req & { rawBody?: Buffer }).rawBody = buf;
      },
    }),
  );
  app.use(
    imagesRouter({
      pool: deps.pool,
      storage: deps.storage,
      maxUploadBytes: deps.limits.uploadBytes,
      maxPassthroughBytes: deps.limits.passthroughBytes,
      variantPresets: deps.variantPresets,
      processImageMaxAttempts: deps.limits.processImageMaxAttempts ?? 5,
      allowPrivateNetworks: deps.allowPrivateNetworks ?? false,
    }),
  );
  app.use(
    webhooksRouter({
      pool: deps.pool,
      allowPrivateNetworks: deps.allowPrivateNetworks ?? false,
      secretRotationMs: deps.webhooks?.secretRotationMs ?? 24 * 3600_000,
      deliveryMaxAttempts: deps.webhooks?.deliveryMaxAttempts ?? 8,
    }),
  );

  app.use((req, _res, next) => next(problems.notFound(`No route ${req.method} ${req.path}.`)));
  app.use(problemErrorHandler(onError));
  return app;
}
