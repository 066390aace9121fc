import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  BlobNotFoundError,
  type BlobStore,
  BlobTooLargeError,
  type GetOptions,
  type PutResult,
} from './blob-store.ts';

/** Blobs as files under one root; writes go to `.tmp/` and are renamed into place. */
export class LocalBlobStore implements BlobStore {
  readonly root: string;
  constructor(root: string) {
    this.root = path.resolve(root);
  }

  async put(key: string, source: Readable | AsyncIterable<Uint8Array>, options: { maxBytes?: number } = {}) {
    const target = this.pathOf(key);
    const tmp = await this.tempPath();
    const hash = createHash('sha256');
    let byteSize = 0;
    const limit = options.maxBytes ?? Number.POSITIVE_INFINITY;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        byteSize += chunk.length;
        if (byteSize > limit) return done(new BlobTooLargeError(limit));
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(source, meter, createWriteStream(tmp, { flags: 'wx' }));
      await mkdir(path.dirname(target), { recursive: true });
      await rename(tmp, target);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    return { byteSize, sha256: hash.digest('hex') };
  }

  async putBuffer(key: string, bytes: Uint8Array): Promise<PutResult> {
    return this.put(key, Readable.from([bytes]));
  }

  async get(key: string, options: GetOptions = {}) {
    const file = this.pathOf(key);
    try {
      const s = await stat(file);
      if (options.start === undefined && options.end === undefined) {
        return { stream: createReadStream(file), byteSize: s.size };
      }
      const start = options.start ?? 0;
      const end = Math.min(options.end ?? s.size - 1, s.size - 1);
      return { stream: createReadStream(file, { start, end }), byteSize: Math.max(0, end - start + 1) };
    } catch (err) {
      throw notFoundOr(err, key);
    }
  }

  async readBuffer(key: string): Promise<Buffer> {
    try {
      return await readFile(this.pathOf(key));
    } catch (err) {
      throw notFoundOr(err, key);
    }
  }

  async head(key: string): Promise<{ byteSize: number } | undefined> {
    try {
      const s = await stat(this.pathOf(key));
      return s.isFile() ? { byteSize: s.size } : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.head(key)) !== undefined;
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async deleteMany(keys: string[]): Promise<void> {
    for (const key of keys) await this.delete(key);
  }

  async deletePrefix(prefix: string): Promise<void> {
    await rm(this.pathOf(prefix.replace(/\/+$/, '')), { force: true, recursive: true });
  }

  async *list(prefix = ''): AsyncIterable<{ key: string; byteSize: number }> {
    const entries = await readdir(this.root, { recursive: true, withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (!e.isFile()) continue;
      const key = path.relative(this.root, path.join(e.parentPath, e.name)).split(path.sep).join('/');
      if (key.startsWith('.tmp/') || !key.startsWith(prefix)) continue;
      const s = await stat(path.join(e.parentPath, e.name)).catch(() => undefined);
      if (s) yield { key, byteSize: s.size };
    }
  }

  async ping(): Promise<void> {
    await mkdir(this.root, { recursive: true });
  }

  close(): void {}

  localPath(key: string): string {
    return this.pathOf(key);
  }

  /** Keys come from our own ids, but refuse anything that could escape the root anyway. */
  private pathOf(key: string): string {
    if (!/^[A-Za-z0-9_\-./]+$/.test(key) || key.split('/').some((p) => p === '..' || p === '.' || p === '')) {
      throw new Error(`invalid blob key: ${key}`);
    }
    return path.join(this.root, key);
  }

  /**
   * Removes temp files older than `maxAgeMs`: what a process killed mid-write (SIGKILL, OOM)
   * left behind. Called at start by the api and the worker; a live write is never that old.
   */
  async sweepTemp(maxAgeMs = 3600_000): Promise<number> {
    const dir = path.join(this.root, '.tmp');
    let removed = 0;
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const file = path.join(dir, name);
      const s = await stat(file).catch(() => undefined);
      if (s && Date.now() - s.mtimeMs > maxAgeMs) {
        await rm(file, { force: true });
        removed++;
      }
    }
    return removed;
  }

  private async tempPath(): Promise<string> {
    const dir = path.join(this.root, '.tmp');
    await mkdir(dir, { recursive: true });
    return path.join(dir, randomBytes(12).toString('hex'));
  }
}

function notFoundOr(err: unknown, key: string): unknown {
  return (err as NodeJS.ErrnoException).code === 'ENOENT' ? new BlobNotFoundError(`no blob ${key}`) : err;
}
