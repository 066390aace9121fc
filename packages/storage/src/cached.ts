import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { BlobStore, GetOptions, PutResult } from './blob-store.ts';
import type { DiskCache } from './disk-cache.ts';

/**
 * A remote store (S3) with a read-through copy of some blobs on this machine's disk, so that
 * the thumbnails, variants and jobs made from one original download it from the bucket once
 * per machine, not once per render. Bounded by the DiskCache's size, least recently used out.
 *
 * Cached are the blobs `cacheable(key)` selects (originals and job inputs: read many times,
 * never changed — keys are ids that are never reused). Writes go to the remote store first
 * and then into the cache, so the worker that just stored an original reads it back locally.
 * Concurrent misses for one key share one download.
 */
export class CachedBlobStore implements BlobStore {
  readonly inner: BlobStore;
  readonly cache: DiskCache;
  private readonly cacheable: (key: string) => boolean;
  private readonly loading = new Map<string, Promise<Buffer>>();
  /** Remote reads, for tests and metrics: a hit never increments it. */
  remoteReads = 0;

  constructor(inner: BlobStore, cache: DiskCache, cacheable: (key: string) => boolean) {
    this.inner = inner;
    this.cache = cache;
    this.cacheable = cacheable;
  }

  async put(
    key: string,
    source: Readable | AsyncIterable<Uint8Array>,
    options?: { maxBytes?: number },
  ): Promise<PutResult> {
    // A streamed upload is not held in memory to be cached; the first read fills the cache.
    await this.cache.remove(cacheKey(key));
    return this.inner.put(key, source, options);
  }

  async putBuffer(key: string, bytes: Uint8Array): Promise<PutResult> {
    const result = await this.inner.putBuffer(key, bytes);
    if (this.cacheable(key)) await this.cache.put(cacheKey(key), bytes).catch(() => undefined);
    return result;
  }

  async get(key: string, options?: GetOptions) {
    const hit = this.cacheable(key) ? this.cache.get(cacheKey(key)) : undefined;
    if (hit) {
      const start = options?.start ?? 0;
      const end = Math.min(options?.end ?? hit.size - 1, hit.size - 1);
      try {
        const stream = createReadStream(hit.path, { start, end });
        await new Promise<void>((resolve, reject) =>
          stream.once('open', () => resolve()).once('error', reject),
        );
        return { stream, byteSize: Math.max(0, end - start + 1) };
      } catch {
        this.cache.forget(cacheKey(key));
      }
    }
    this.remoteReads++;
    return this.inner.get(key, options);
  }

  async readBuffer(key: string): Promise<Buffer> {
    if (!this.cacheable(key)) {
      this.remoteReads++;
      return this.inner.readBuffer(key);
    }
    const ck = cacheKey(key);
    const hit = this.cache.get(ck);
    if (hit) {
      try {
        return await readFile(hit.path);
      } catch {
        this.cache.forget(ck); // evicted or removed between the lookup and the read
      }
    }
    let pending = this.loading.get(ck);
    if (!pending) {
      this.remoteReads++;
      pending = this.inner.readBuffer(key).then(async (bytes) => {
        await this.cache.put(ck, bytes).catch(() => undefined);
        return bytes;
      });
      this.loading.set(ck, pending);
      pending.then(
        () => this.loading.delete(ck),
        () => this.loading.delete(ck),
      );
    }
    return pending;
  }

  async head(key: string) {
    const hit = this.cacheable(key) ? this.cache.get(cacheKey(key)) : undefined;
    return hit ? { byteSize: hit.size } : this.inner.head(key);
  }

  async exists(key: string): Promise<boolean> {
    return (await this.head(key)) !== undefined;
  }

  async delete(key: string): Promise<void> {
    await this.cache.remove(cacheKey(key));
    await this.inner.delete(key);
  }

  async deleteMany(keys: string[]): Promise<void> {
    for (const key of keys) await this.cache.remove(cacheKey(key));
    await this.inner.deleteMany(keys);
  }

  deletePrefix(prefix: string): Promise<void> {
    return this.inner.deletePrefix(prefix);
  }

  list(prefix?: string) {
    return this.inner.list(prefix);
  }

  /** The cached copy's path, when this machine has one (decoders then read the file). */
  localPath(key: string): string | undefined {
    if (!this.cacheable(key)) return undefined;
    return this.cache.get(cacheKey(key))?.path;
  }

  presignGet(key: string, options: { expiresInSeconds: number; contentType?: string; filename?: string }) {
    if (!this.inner.presignGet) throw new Error('this store cannot presign URLs');
    return this.inner.presignGet(key, options);
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  close(): void {
    this.inner.close();
  }
}

/** DiskCache keys are hex names; a key's hash is stable across processes and machines. */
function cacheKey(key: string): string {
  return createHash('sha256').update(`blob:${key}`).digest('hex').slice(0, 40);
}
