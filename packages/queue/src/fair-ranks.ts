import { type Queryable, queryOne, sql } from '@imgkit/db';

const reserveSql = sql('tasks.fair_ranks', 'SELECT imgkit_fair_ranks($1, $2) AS first');

interface Block {
  next: bigint;
  end: bigint;
  /** Local clock time after which the rest of the block is dropped. */
  expiresAt: number;
  /** Size of the next reservation: doubles while blocks are spent before they expire. */
  size: number;
  reserving: Promise<void> | null;
}

/**
 * Fair ranks for one producer process, reserved from the key's counter in blocks (one autocommit
 * statement on an UNLOGGED table, so no WAL flush and the counter row is locked only for that
 * statement). A key that creates one task now and then reserves one rank each time, exactly as
 * before; a key creating many a second reserves up to `maxBlock` at once and its tasks still get
 * consecutive ranks. A block lives `ttlMs` at most: its ranks were taken at or ahead of the head
 * of the queue then, and a rank handed out later than that could be far behind the head by now
 * (so its task would be claimed ahead of others' older ones) — what remains is dropped, and a
 * dropped rank is a gap, which costs nothing.
 */
export class FairRanks {
  private readonly db: Queryable;
  private readonly maxBlock: number;
  private readonly ttlMs: number;
  private readonly blocks = new Map<string, Block>();

  constructor(db: Queryable, options: { maxBlock?: number; ttlMs?: number } = {}) {
    this.db = db;
    this.maxBlock = options.maxBlock ?? 64;
    this.ttlMs = options.ttlMs ?? 100;
  }

  /** The next rank for a task of `key`. */
  async next(key: string): Promise<string> {
    for (;;) {
      const now = Date.now();
      let b = this.blocks.get(key);
      if (b && b.next < b.end && b.expiresAt > now) return String(b.next++);
      if (b?.reserving) {
        await b.reserving;
        continue;
      }
      if (!b) {
        if (this.blocks.size >= 10_000) this.forgetExpired(now);
        b = { next: 0n, end: 0n, expiresAt: 0, size: 1, reserving: null };
        this.blocks.set(key, b);
      }
      const block = b;
      // Spent before it expired: the key is busy, take more next time; expired: start small.
      block.size = block.expiresAt > now ? Math.min(this.maxBlock, block.size * 2) : 1;
      const size = block.size;
      block.reserving = queryOne<{ first: string }>(this.db, reserveSql, [key, size])
        .then((row) => {
          block.next = BigInt(row!.first);
          block.end = block.next + BigInt(size);
          block.expiresAt = Date.now() + this.ttlMs;
        })
        .finally(() => {
          block.reserving = null;
        });
      await block.reserving;
    }
  }

  private forgetExpired(now: number) {
    for (const [key, b] of this.blocks) if (b.expiresAt <= now && !b.reserving) this.blocks.delete(key);
  }
}
