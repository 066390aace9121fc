import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { RateLimiter } from '@imgkit/auth';
import type { Queryable } from '@imgkit/db';
import { freshDatabase } from '../../../test/helpers/db.ts';

const db = await freshDatabase();
after(() => db.pool.end());

/** The pool, counting statements. */
function counting(): { db: Queryable; count: () => number } {
  let n = 0;
  const proxy = new Proxy(db.pool, {
    get(target, prop, receiver) {
      if (prop === 'query')
        return (...args: unknown[]) => {
          n++;
          return (target.query as (...a: unknown[]) => unknown).apply(target, args);
        };
      return Reflect.get(target, prop, receiver);
    },
  });
  return { db: proxy as Queryable, count: () => n };
}

async function windowCount(keyId: string): Promise<number> {
  const { rows } = await db.pool.query(
    'SELECT coalesce(sum(count), 0)::int AS n FROM rate_limit_windows WHERE key_id = $1',
    [keyId],
  );
  return rows[0].n;
}

// A minute boundary inside a test restarts the count; such a run is repeated, never judged.
async function withinOneWindow(run: () => Promise<void>): Promise<void> {
  for (;;) {
    const minute = Math.floor(Date.now() / 60_000);
    await run();
    if (Math.floor(Date.now() / 60_000) === minute) return;
  }
}

test('far from the limit a busy key costs one upsert per block, and every request is still counted', async () => {
  await withinOneWindow(async () => {
    const key = `key_busy_${Math.random()}`;
    const { db: q, count } = counting();
    const limiter = new RateLimiter(q, { perMinute: 100_000 });
    let last = 100_000;
    for (let i = 0; i < 1000; i++) {
      const d = await limiter.hit(key);
      assert.ok(d.allowed);
      assert.equal(d.remaining, last - 1, 'remaining falls by one per request');
      last = d.remaining;
    }
    assert.ok(count() <= 12, `${count()} upserts for 1,000 requests`);
    const counted = await windowCount(key);
    assert.ok(counted >= 1000 && counted <= 1000 + 256, `window count ${counted}`);
  });
});

test('near the limit every request is counted in the database: never more than the limit, across processes', async () => {
  await withinOneWindow(async () => {
    const key = `key_shared_${Math.random()}`;
    // Two api processes' limiters on one key, hit concurrently.
    const a = new RateLimiter(db.pool, { perMinute: 200 });
    const b = new RateLimiter(db.pool, { perMinute: 200 });
    const decisions = await Promise.all(Array.from({ length: 400 }, (_, i) => (i % 2 ? a : b).hit(key)));
    const allowed = decisions.filter((d) => d.allowed).length;
    assert.ok(allowed <= 200, `${allowed} allowed of a limit of 200`);
    // What one process reserved and did not spend is at most an eighth of what was left.
    assert.ok(allowed >= 200 - 200 / 8, `${allowed} allowed`);
    const refused = decisions.filter((d) => !d.allowed);
    assert.ok(refused.every((d) => d.remaining === 0 && d.resetSeconds >= 1 && d.resetSeconds <= 60));
  });
});

test('a small limit is exact, request by request, across two limiters', async () => {
  await withinOneWindow(async () => {
    const key = `key_small_${Math.random()}`;
    const a = new RateLimiter(db.pool, { perMinute: 5 });
    const b = new RateLimiter(db.pool, { perMinute: 5 });
    const seen = [];
    for (let i = 0; i < 7; i++) seen.push(await (i % 2 ? b : a).hit(key));
    assert.deepEqual(
      seen.map((d) => d.allowed),
      [true, true, true, true, true, false, false],
    );
    assert.deepEqual(
      seen.slice(0, 5).map((d) => d.remaining),
      [4, 3, 2, 1, 0],
    );
  });
});
