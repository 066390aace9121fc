import path from 'node:path';
import type { Config } from '@imgkit/config';
import { type BlobStore, CachedBlobStore, DiskCache, LocalBlobStore, type S3Settings } from '@imgkit/storage';

/** Blobs read many times and never changed: worth a copy on each machine's disk. */
export function isCacheableBlob(key: string): boolean {
  return key.startsWith('originals/') || (key.startsWith('jobs/') && key.endsWith('/input'));
}

/**
 * The blob store a process uses, from config: the local disk under DATA_DIR/blobs, or an
 * S3 bucket read through a cache of originals under DATA_DIR/originals-cache. No main()
 * names a driver. Temp files a killed process left in the local store are removed here.
 */
export async function createBlobStore(config: Config): Promise<BlobStore> {
  if (config.STORAGE === 'local') {
    const store = new LocalBlobStore(path.join(config.dataDir, 'blobs'));
    await store.sweepTemp();
    return store;
  }
  const { S3BlobStore } = await import('@imgkit/storage/s3');
  const s3 = new S3BlobStore(s3Settings(config));
  const cache = new DiskCache(path.join(config.dataDir, 'originals-cache'), config.ORIGINALS_CACHE_MAX_BYTES);
  await cache.init();
  return new CachedBlobStore(s3, cache, isCacheableBlob);
}

/** The S3 client settings from config (the factory and `imgkit storage copy` share them). */
export function s3Settings(config: Config): S3Settings {
  if (!config.S3_BUCKET) throw new Error('S3_BUCKET is not set');
  return {
    bucket: config.S3_BUCKET,
    region: config.S3_REGION ?? 'us-east-1',
    endpoint: config.S3_ENDPOINT,
    // Path-style is what S3-compatible servers on one host name answer; AWS prefers virtual hosts.
    forcePathStyle: config.S3_FORCE_PATH_STYLE ?? config.S3_ENDPOINT !== undefined,
    checksum: config.S3_CHECKSUM ?? (config.S3_ENDPOINT ? 'when_required' : 'when_supported'),
    credentials: config.S3_ACCESS_KEY_ID
      ? { accessKeyId: config.S3_ACCESS_KEY_ID, secretAccessKey: config.S3_SECRET_ACCESS_KEY! }
      : undefined,
    maxAttempts: config.S3_MAX_ATTEMPTS,
    requestTimeoutMs: config.S3_REQUEST_TIMEOUT_MS,
    keyPrefix: config.S3_KEY_PREFIX,
  };
}
