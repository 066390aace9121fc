import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** An original read whole into one of the thread's kept buffers; `release` gives the buffer back. */
export interface ReadOriginal {
  bytes: Buffer;
  /** The file read, as one `fstat` of the open descriptor saw it (for the header cache). */
  stamp: string;
  release: () => void;
}

const MB = 1024 * 1024;

/**
 * Reads local originals whole, each with one `read`, into buffers a media thread keeps between
 * renders. Handed a path, libvips reads the file through its own source in 4 KB chunks (~1,500
 * system calls for a 6 MB JPEG), and reading it into a new Buffer instead costs as much in page
 * faults on the fresh memory: both cost 4–8 % of a 200×200 thumbnail's CPU against the same
 * bytes already in memory (measured in one run on the 12–24 MP JPEGs of bench/thumbs). A kept
 * buffer's pages are already mapped, so the read is one copy from the page cache.
 *
 * A buffer is lent to one render at a time, so a thread keeps at most one per render it runs at
 * once, each at most `maxBytes` (larger files are left to libvips' streaming), and drops them all
 * after `idleMs` without a render.
 */
export class OriginalReader {
  private readonly spare: Buffer[] = [];
  private lent = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly maxBytes: number;
  private readonly idleMs: number;

  constructor(maxBytes: number, idleMs: number) {
    this.maxBytes = maxBytes;
    this.idleMs = idleMs;
  }

  /** The file's bytes, or undefined when it is larger than `maxBytes` or cannot be read whole. */
  read(file: string): ReadOriginal | undefined {
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch {
      return undefined; // the render by path reports it
    }
    try {
      const s = fstatSync(fd, { bigint: true });
      const size = Number(s.size);
      if (!s.isFile() || size > this.maxBytes) return undefined;
      const buffer = this.take(size);
      let read = 0;
      try {
        while (read < size) {
          const n = readSync(fd, buffer, read, size - read, read);
          if (n === 0) break;
          read += n;
        }
      } catch {
        this.give(buffer);
        return undefined;
      }
      if (read < size) {
        this.give(buffer); // truncated meanwhile: let the render by path see the file as it is
        return undefined;
      }
      return {
        bytes: buffer.subarray(0, size),
        stamp: `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`,
        release: once(() => this.give(buffer)),
      };
    } finally {
      closeSync(fd);
    }
  }

  /** Buffers kept right now (for tests). */
  get kept(): number {
    return this.spare.length;
  }

  private take(size: number): Buffer {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.lent++;
    // The smallest kept buffer that fits; else a new one, rounded up to a whole MB so that files
    // of similar sizes share it, in place of the largest kept one (which was too small).
    let best = -1;
    for (let i = 0; i < this.spare.length; i++) {
      if (this.spare[i].length >= size && (best < 0 || this.spare[i].length < this.spare[best].length))
        best = i;
    }
    if (best >= 0) return this.spare.splice(best, 1)[0];
    if (this.spare.length > 0) this.spare.sort((a, b) => a.length - b.length).pop();
    return Buffer.allocUnsafeSlow(Math.min(this.maxBytes, Math.ceil(Math.max(size, 1) / MB) * MB));
  }

  private give(buffer: Buffer): void {
    this.lent--;
    this.spare.push(buffer);
    if (this.lent === 0) {
      this.idleTimer = setTimeout(() => {
        this.spare.length = 0;
        this.idleTimer = undefined;
      }, this.idleMs);
      this.idleTimer.unref();
    }
  }
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}
