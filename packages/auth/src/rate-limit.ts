import { type Queryable, queryOne, sql } from '@imgkit/db';

// Fixed one-minute windows shared by every api process through PostgreSQL (an UNLOGGED table).
// A process reserves requests from its key's window in blocks (see RateLimiter); see
// docs/decisions.md for the trade-offs.
const reserveSql = sql(
  'rate_limit.reserve',
  `INSERT INTO rate_limit_windows AS w (key_id, window_start, count)
   VALUES ($1, date_trunc('minute', now()), $2)
   ON CONFLICT (key_id, window_start) DO UPDATE SET count = w.count + $2
   RETURNING count, ceil(extract(epoch FROM w.window_start + interval '1 minute' - now()) * 1000)::int AS reset_ms`,
);

/**
 * Adds `n` requests to the key's current window; returns the window's count after them and the
 * milliseconds until the window ends.
 */
export async function reserveRequests(
  db: Queryable,
  keyId: string,
  n: number,
): Promise<{ count: number; resetMs: number }> {
  const row = await queryOne<{ count: number; reset_ms: number }>(db, reserveSql, [keyId, n]);
  return { count: row!.count, resetMs: Math.max(1, row!.reset_ms) };
}

export interface RateDecision {
  allowed: boolean;
  /** Requests left in the window as this process knows it. */
  remaining: number;
  resetSeconds: number;
}

interface KeyWindow {
  /** Local clock time the window ends at. */
  endsAt: number;
  /** Requests reserved in the database by this process and not yet spent. */
  tokens: number;
  /** The window's count in the database after this process's last reservation. */
  count: number;
  /** Size of the next reservation: doubles each time a block is spent within the window. */
  block: number;
  reserving: Promise<void> | null;
}

/**
 * RATE_LIMIT_PER_MINUTE per API key across every api process, without a database write per
 * request. A process takes requests from the key's shared window in blocks — one upsert adds
 * the whole block to the window's count — and spends them locally. A block is at most an
 * eighth of what the window has left (and `maxBlock`), so near the limit it is one request and
 * every request is counted in the database, exactly as a per-request counter would; far from
 * it a busy key costs one upsert per up to `maxBlock` requests. The shared count therefore
 * never lets more than the limit through; what a process reserved and did not spend (at most
 * an eighth of the remainder) is refused to the others for the rest of that minute.
 */
export class RateLimiter {
  private readonly db: Queryable;
  private readonly perMinute: number;
  private readonly maxBlock: number;
  private readonly keys = new Map<string, KeyWindow>();

  constructor(db: Queryable, options: { perMinute: number; maxBlock?: number }) {
    this.db = db;
    this.perMinute = options.perMinute;
    this.maxBlock = options.maxBlock ?? 256;
  }

  /**
   * Counts one request of the key if this process holds a reserved request for it: the common
   * case, answered without a promise. Undefined when `hit` has to ask the database.
   */
  hitLocally(keyId: string): RateDecision | undefined {
    const w = this.keys.get(keyId);
    const now = Date.now();
    if (!w || w.tokens <= 0 || w.endsAt <= now) return undefined;
    w.tokens--;
    return this.decision(w, true, now);
  }

  /** Counts one request of the key. */
  async hit(keyId: string): Promise<RateDecision> {
    for (;;) {
      const now = Date.now();
      let w = this.keys.get(keyId);
      if (w && w.endsAt <= now && !w.reserving) {
        // A new window: what was reserved in the old one is gone with it.
        w.tokens = 0;
        w.count = 0;
      }
      if (w && w.tokens > 0 && w.endsAt > now) {
        w.tokens--;
        return this.decision(w, true, now);
      }
      if (w?.reserving) {
        await w.reserving;
        continue;
      }
      if (!w) {
        if (this.keys.size >= 10_000) this.forgetEnded(now);
        w = { endsAt: 0, tokens: 0, count: 0, block: 1, reserving: null };
        this.keys.set(keyId, w);
      }
      const window = w;
      const n = Math.max(1, Math.min(window.block, Math.floor((this.perMinute - window.count) / 8)));
      let denied = false;
      window.reserving = reserveRequests(this.db, keyId, n)
        .then(({ count, resetMs }) => {
          const before = count - n;
          const granted = Math.max(0, Math.min(n, this.perMinute - before));
          const spentBlock = window.tokens === 0 && window.endsAt > Date.now();
          window.count = count;
          window.endsAt = Date.now() + resetMs;
          window.tokens = granted;
          if (spentBlock) window.block = Math.min(this.maxBlock, window.block * 2);
          denied = granted === 0;
        })
        .finally(() => {
          window.reserving = null;
        });
      await window.reserving;
      if (denied) return this.decision(window, false, Date.now());
    }
  }

  private decision(w: KeyWindow, allowed: boolean, now: number): RateDecision {
    return {
      allowed,
      remaining: Math.max(0, this.perMinute - (w.count - w.tokens)),
      resetSeconds: Math.max(1, Math.ceil((w.endsAt - now) / 1000)),
    };
  }

  private forgetEnded(now: number) {
    for (const [key, w] of this.keys) if (w.endsAt <= now && !w.reserving) this.keys.delete(key);
  }
}

const pruneSql = sql(
  'rate_limit.prune',
  `DELETE FROM rate_limit_windows WHERE window_start < date_trunc('minute', now()) - interval '1 minute'`,
);

/** Windows that ended are never read again. */
export async function pruneRateWindows(db: Queryable): Promise<number> {
  const r = await db.query({ name: pruneSql.name, text: pruneSql.text });
  return r.rowCount ?? 0;
}
