import { mkdtemp } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { type AppDeps, createApp } from '@imgkit/api/app';
import { createAccount, createApiKey } from '@imgkit/auth';
import type { Pool } from '@imgkit/db';
import { SafeFetcher } from '@imgkit/fetch';
import { listenForRenditionChanges } from '@imgkit/images';
import { createLogger } from '@imgkit/log';
import { MediaPool } from '@imgkit/media-pool';
import { type BlobStore, DiskCache, LocalBlobStore } from '@imgkit/storage';
import type { UrlPreset } from '@imgkit/urls';
import { generateWebhookSecret } from '@imgkit/webhooks';

export const TEST_SECRET = 'test-secret-key-that-is-long-enough-0123456789';

export interface TestApi {
  base: string;
  storage: BlobStore;
  blobRoot: string;
  cache: DiskCache;
  /** How many times the signed-URL route decoded and rendered an image. */
  renders: { count: number };
}

export async function startApi(
  pool: Pool,
  overrides: Partial<{
    uploadBytes: number;
    rateLimitPerMinute: number;
    jsonBodyBytes: number;
    processImageMaxAttempts: number;
    blobRoot: string;
    allowPrivateNetworks: boolean;
    webhookRotationMs: number;
    /** Another blob store (S3) instead of a local one under blobRoot. */
    storage: BlobStore;
    originals: AppDeps['originals'];
    presets: Record<string, UrlPreset>;
    presetsOnly: boolean;
    proxyCacheSeconds: number;
  }> = {},
): Promise<TestApi> {
  const blobRoot = overrides.blobRoot ?? (await mkdtemp(path.join(tmpdir(), 'imgkit-blobs-')));
  const storage = overrides.storage ?? new LocalBlobStore(blobRoot);
  // With the memory tier, as the api runs by default.
  const cache = new DiskCache(await mkdtemp(path.join(tmpdir(), 'imgkit-cache-')), 64 * 1024 * 1024, {
    maxBytes: 8 * 1024 * 1024,
    maxItemBytes: 256 * 1024,
  });
  await cache.init();
  const renders = { count: 0 };
  // As in production: signed-URL renders run in the media pool's threads.
  const media = new MediaPool({
    limits: { maxInputPixels: 100_000_000, maxFrames: 500, maxOutputSide: 4096, decodeTimeoutMs: 30_000 },
    threads: 2,
    heapMb: 512,
    pixelBudget: 200_000_000,
    callTimeoutMs: 60_000,
  });
  after(() => media.close());
  const fetcher = new SafeFetcher({ allowPrivateNetworks: overrides.allowPrivateNetworks ?? true });
  after(() => fetcher.close());
  const render: NonNullable<AppDeps['signedUrls']>['render'] = (input, spec, options) => {
    renders.count++;
    return media.transform(input, spec, options);
  };
  let listening: Promise<void> | undefined;
  const app = createApp({
    pool,
    storage,
    logger: createLogger({ name: 'api-test', level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    secretKey: TEST_SECRET,
    limits: {
      jsonBodyBytes: overrides.jsonBodyBytes ?? 256 * 1024,
      uploadBytes: overrides.uploadBytes ?? 5 * 1024 * 1024,
      inlineInputBytes: overrides.uploadBytes ?? 5 * 1024 * 1024,
      passthroughBytes: 16 * 1024,
      rateLimitPerMinute: overrides.rateLimitPerMinute ?? 0,
      maxOutputSide: 4096,
    },
    images: {
      maxAttempts: overrides.processImageMaxAttempts ?? 5,
      variantPresets: ['thumbnail', 'medium', 'large'],
    },
    originals: overrides.originals ?? { delivery: 'proxy', redirectTtlSeconds: 300 },
    jobs: { maxAttempts: overrides.processImageMaxAttempts ?? 5 },
    isShuttingDown: () => false,
    allowPrivateNetworks: overrides.allowPrivateNetworks ?? true,
    webhooks: { secretRotationMs: overrides.webhookRotationMs ?? 24 * 3600_000, deliveryMaxAttempts: 8 },
    authCacheMs: 0, // tests revoke keys and expect the next request to fail
    signedUrls: {
      cache,
      keyId: '1',
      keys: { '1': TEST_SECRET, old: `${TEST_SECRET}-old` },
      render,
      presets: overrides.presets ?? {
        thumbnail: { width: 100 },
        medium: { width: 500 },
        large: { width: 1000 },
      },
      presetsOnly: overrides.presetsOnly ?? false,
      proxyCacheSeconds: overrides.proxyCacheSeconds ?? 600,
      // As in production: purges and deletions reach every api process through LISTEN.
      listen: (handlers) => {
        const listener = listenForRenditionChanges(
          (pool as Pool & { options: { connectionString: string } }).options.connectionString,
          { warn: () => undefined },
          handlers,
        );
        listening = listener.start();
        after(() => listener.stop());
      },
    },
    search: {
      hashImage: async (bytes) => {
        const { extracted } = await media.processImage(bytes, { metadata: false, variants: [] });
        return { phash: extracted.phash, dhash: extracted.dhash };
      },
      fetchImage: async (url) =>
        (await fetcher.fetch(url, { maxBytes: 16 * 1024 * 1024, timeoutMs: 10_000 })).body,
    },
  });
  await listening;
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((r) => server.once('listening', () => r()));
  after(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    storage,
    blobRoot,
    cache,
    renders,
  };
}

export async function newAccountWithKey(pool: Pool, name = 'test') {
  const webhookSecret = generateWebhookSecret();
  const account = { ...(await createAccount(pool, name, webhookSecret)), webhook_secret: webhookSecret };
  const { key, record } = await createApiKey(pool, TEST_SECRET, account.id);
  return { account, key, keyId: record.id, auth: { Authorization: `Bearer ${key}` } };
}

/** A parsed JSON body, loosely typed for assertions. */
// biome-ignore lint/suspicious/noExplicitAny: test assertions poke at arbitrary JSON
export async function jsonOf(res: Response): Promise<any> {
  return res.json();
}
