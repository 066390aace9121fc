import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** How much of the cache is also kept in memory (small entries only). */
export interface MemoryTier {
  maxBytes: number;
  /** Larger entries are served from disk only. */
  maxItemBytes: number;
}

/**
 * Rendered images on local disk under a size bound, evicted least recently
 * used first. Writes are temp file + rename, so a crash mid-write leaves no
 * half file; the index is rebuilt from the directory at start, so the cache
 * survives restarts.
 *
 * Optionally the most recently used small entries are also kept in memory: a thumbnail is a
 * few kilobytes, and serving it from a file costs an open, two reads and a close on libuv's
 * thread pool — each a hand-off between threads — which was most of a cache hit's time.
 */
export class DiskCache {
  readonly dir: string;
  readonly maxBytes: number;
  /** Insertion order is recency order: the first entry is the least recently used. */
  private readonly entries = new Map<string, number>();
  private total = 0;
  private readonly memory: MemoryTier;
  /** The in-memory copies, least recently used first. */
  private readonly hot = new Map<string, Buffer>();
  private hotTotal = 0;

  constructor(dir: string, maxBytes: number, memory: MemoryTier = { maxBytes: 0, maxItemBytes: 0 }) {
    this.dir = path.resolve(dir);
    this.maxBytes = maxBytes;
    this.memory = memory;
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

  /**
   * The cached file's path and size, and its bytes when they are in memory, marked as just used;
   * undefined on a miss.
   */
  get(key: string): { path: string; size: number; data?: Buffer } | undefined {
    const size = this.entries.get(key);
    if (size === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, size);
    const data = this.hot.get(key);
    if (data) {
      this.hot.delete(key);
      this.hot.set(key, data);
    }
    return { path: this.pathOf(key), size, data };
  }

  /** Keeps a copy of an entry's bytes in memory (e.g. after reading it from disk) if it is small. */
  keepInMemory(key: string, data: Buffer): void {
    if (!this.entries.has(key) || data.length > this.memory.maxItemBytes) return;
    this.dropHot(key);
    this.hot.set(key, data);
    this.hotTotal += data.length;
    for (const [k] of this.hot) {
      if (this.hotTotal <= this.memory.maxBytes) break;
      this.dropHot(k);
    }
  }

  /**
   * The bytes of an entry small enough for memory, read from disk and kept in memory;
   * undefined for a large entry or one whose file is gone (then forgotten).
   */
  async readSmall(key: string, entry: { path: string; size: number }): Promise<Buffer | undefined> {
    if (entry.size > this.memory.maxItemBytes) return undefined;
    const data = await readFile(entry.path).catch(() => undefined);
    if (!data) {
      this.forget(key);
      return undefined;
    }
    this.keepInMemory(key, data);
    return data;
  }

  async put(key: string, data: Uint8Array): Promise<void> {
    const files = this.filesFor(key, data.length);
    if (!files) return;
    try {
      await this.write(files.tmp, data);
    } catch (err) {
      // A directory made earlier was removed under us (an operator emptied the cache): again.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.made.clear();
      await this.write(files.tmp, data);
    }
    await this.rename(files.tmp, files.file);
    await this.adopt(key, data);
  }

  /**
   * Where an entry's bytes go when someone else writes them (the media thread that rendered
   * them, synchronously): a fresh temp file, to be renamed to `file` once complete, then
   * `adopt`ed. Undefined when the cache is off or the entry could never fit.
   */
  filesFor(key: string, size = 0): { tmp: string; file: string } | undefined {
    if (this.maxBytes === 0 || size > this.maxBytes) return undefined;
    return { tmp: path.join(this.dir, '.tmp', randomBytes(8).toString('hex')), file: this.pathOf(key) };
  }

  /** Takes in an entry whose file is complete at `pathOf(key)`; its bytes, for the memory tier. */
  async adopt(key: string, data: Uint8Array): Promise<void> {
    if (data.length > this.maxBytes) {
      await unlink(this.pathOf(key)).catch(() => undefined);
      return;
    }
    this.remember(key, data.length);
    // A view into a larger buffer would keep all of it alive: such bytes are copied.
    const whole =
      Buffer.isBuffer(data) && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
    if (data.length <= this.memory.maxItemBytes) this.keepInMemory(key, whole ? data : Buffer.from(data));
    await this.evict();
  }

  /** A cached file vanished under us (e.g. deleted by an operator): forget it. */
  forget(key: string): void {
    this.dropHot(key);
    const size = this.entries.get(key);
    if (size === undefined) return;
    this.entries.delete(key);
    this.total -= size;
  }

  private dropHot(key: string): void {
    const data = this.hot.get(key);
    if (!data) return;
    this.hot.delete(key);
    this.hotTotal -= data.length;
  }

  /** Directories known to exist: each put would otherwise make its two again (thread-pool round trips). */
  private readonly made = new Set<string>();

  private async ensureDir(dir: string): Promise<void> {
    if (this.made.has(dir)) return;
    await mkdir(dir, { recursive: true });
    this.made.add(dir);
  }

  private async write(file: string, data: Uint8Array): Promise<void> {
    await this.ensureDir(path.dirname(file));
    await writeFile(file, data);
  }

  private async rename(from: string, to: string): Promise<void> {
    await this.ensureDir(path.dirname(to));
    try {
      await rename(from, to);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.made.clear();
      await this.ensureDir(path.dirname(to));
      await rename(from, to);
    }
  }

  /** Bytes held in memory. */
  get memoryBytes(): number {
    return this.hotTotal;
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
