import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Rendered images on local disk under a size bound, evicted least recently
 * used first. Writes are temp file + rename, so a crash mid-write leaves no
 * half file; the index is rebuilt from the directory at start, so the cache
 * survives restarts.
 */
export class DiskCache {
  readonly dir: string;
  readonly maxBytes: number;
  /** Insertion order is recency order: the first entry is the least recently used. */
  private readonly entries = new Map<string, number>();
  private total = 0;

  constructor(dir: string, maxBytes: number) {
    this.dir = path.resolve(dir);
    this.maxBytes = maxBytes;
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await rm(path.join(this.dir, '.tmp'), { recursive: true, force: true });
    const found: { key: string; size: number; atime: number }[] = [];
    for (const e of await readdir(this.dir, { recursive: true, withFileTypes: true })) {
      if (!e.isFile() || !/^[0-9a-f]{16,64}$/.test(e.name)) continue;
      const s = await stat(path.join(e.parentPath, e.name)).catch(() => undefined);
      if (s) found.push({ key: e.name, size: s.size, atime: s.atimeMs });
    }
    found.sort((a, b) => a.atime - b.atime);
    for (const f of found) this.remember(f.key, f.size);
    await this.evict();
  }

  pathOf(key: string): string {
    return path.join(this.dir, key.slice(0, 2), key);
  }

  /** The cached file's path and size, marked as just used; undefined on a miss. */
  get(key: string): { path: string; size: number } | undefined {
    const size = this.entries.get(key);
    if (size === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, size);
    return { path: this.pathOf(key), size };
  }

  async put(key: string, data: Uint8Array): Promise<void> {
    if (this.maxBytes === 0 || data.length > this.maxBytes) return;
    const tmpDir = path.join(this.dir, '.tmp');
    await mkdir(tmpDir, { recursive: true });
    const tmp = path.join(tmpDir, randomBytes(8).toString('hex'));
    await writeFile(tmp, data);
    await mkdir(path.dirname(this.pathOf(key)), { recursive: true });
    await rename(tmp, this.pathOf(key));
    this.remember(key, data.length);
    await this.evict();
  }

  /** A cached file vanished under us (e.g. deleted by an operator): forget it. */
  forget(key: string): void {
    const size = this.entries.get(key);
    if (size === undefined) return;
    this.entries.delete(key);
    this.total -= size;
  }

  /** Drops the entry and its file (the blob was deleted). */
  async remove(key: string): Promise<void> {
    this.forget(key);
    await unlink(this.pathOf(key)).catch(() => undefined);
  }

  /** Drops every entry whose key starts with `prefix` (one image's renderings); returns how many. */
  async removePrefix(prefix: string): Promise<number> {
    const keys = [...this.entries.keys()].filter((k) => k.startsWith(prefix));
    await Promise.all(keys.map((k) => this.remove(k)));
    return keys.length;
  }

  get sizeBytes(): number {
    return this.total;
  }

  private remember(key: string, size: number): void {
    this.forget(key);
    this.entries.set(key, size);
    this.total += size;
  }

  private async evict(): Promise<void> {
    for (const [key] of this.entries) {
      if (this.total <= this.maxBytes) break;
      this.forget(key);
      await unlink(this.pathOf(key)).catch(() => undefined);
    }
  }
}
