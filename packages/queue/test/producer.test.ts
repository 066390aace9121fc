// The producer side of the queue as the api uses it: insertWithTask with fair ranks reserved in
// blocks (FairRanks) and the NOTIFY carried by the inserts (Notifier).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Queryable, sql } from '@imgkit/db';
import { FairRanks, insertWithTask, Notifier } from '@imgkit/queue';
import { freshDatabase } from '../../../test/helpers/db.ts';
import { eventually, makeWorker } from './helpers.ts';

const db = await freshDatabase();
after(() => db.pool.end());
await db.pool.query('CREATE TABLE widgets (id text PRIMARY KEY, made_at timestamptz NOT NULL DEFAULT now())');
const insertWidget = sql('test.widget', 'INSERT INTO widgets (id) VALUES ($1) RETURNING id');

/** The pool, counting the statements issued (`sent`) and those that have returned (`finished`). */
function counting(): { db: Queryable; sent: Map<string, number>; finished: Map<string, number> } {
  const sent = new Map<string, number>();
  const finished = new Map<string, number>();
  const pool = db.pool;
  const proxy = new Proxy(pool, {
    get(target, prop, receiver) {
      if (prop === 'query') {
        return (q: { name?: string }, ...rest: unknown[]) => {
          const name = typeof q === 'object' && q?.name ? q.name : 'text';
          sent.set(name, (sent.get(name) ?? 0) + 1);
          const done = () => void finished.set(name, (finished.get(name) ?? 0) + 1);
          const result = (target.query as (...a: unknown[]) => Promise<unknown>).call(target, q, ...rest);
          result.then(done, done);
          return result;
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  });
  return { db: proxy as Queryable, sent, finished };
}

function make(dbq: Queryable, kind: string, fairKey: string, extra: object) {
  const id = `w_${Math.random().toString(36).slice(2)}`;
  return insertWithTask(dbq, { statement: insertWidget, values: [id] }, kind, { id }, { fairKey, ...extra });
}

test('FairRanks: a busy key reserves ranks in blocks, and its tasks still get distinct, consecutive ranks', async () => {
  const { db: dbq, sent } = counting();
  const ranks = new FairRanks(dbq, { maxBlock: 64, ttlMs: 60_000 });
  // 300 creates of one account, 30 at a time, as the api's pool would run them.
  for (let round = 0; round < 10; round++)
    await Promise.all(
      Array.from({ length: 30 }, () => make(dbq, 'ranked', 'acc_busy', { ranks, notify: 'none' })),
    );
  const { rows } = await db.pool.query(
    "SELECT fair_rank::int AS rank FROM tasks WHERE kind = 'ranked' ORDER BY fair_rank",
  );
  assert.equal(rows.length, 300);
  assert.equal(new Set(rows.map((r) => r.rank)).size, 300, 'no rank handed out twice');
  const reservations = sent.get('tasks.fair_ranks') ?? 0;
  assert.ok(reservations <= 12, `${reservations} reservations for 300 ranks (blocks grow to 64)`);
  assert.equal(sent.get('tasks.fair_rank') ?? 0, 0);
  // Blocks are consecutive, so the whole run is one range but for the last block's unused tail.
  assert.ok(rows.at(-1)!.rank - rows[0].rank < 300 + 64);
});

test('FairRanks: a key that arrives while another has a backlog is ranked at the head; an idle key starts small', async () => {
  const ranks = new FairRanks(db.pool, { maxBlock: 64, ttlMs: 50 });
  await Promise.all(
    Array.from({ length: 200 }, () => make(db.pool, 'ranked2', 'acc_backlog', { ranks, notify: 'none' })),
  );
  await make(db.pool, 'ranked2', 'acc_newcomer', { ranks, notify: 'none' });
  const { rows } = await db.pool.query(
    "SELECT fair_key, min(fair_rank)::int AS lo, max(fair_rank)::int AS hi FROM tasks WHERE kind = 'ranked2' GROUP BY fair_key",
  );
  const r = Object.fromEntries(rows.map((x) => [x.fair_key, x]));
  assert.ok(r.acc_newcomer.lo <= r.acc_backlog.lo + 1, 'the newcomer is not queued behind the backlog');
  // After the block's lifetime the busy key's unused ranks are dropped: its next task is ranked
  // from the counter again, never from a stale block.
  await sleep(80);
  const before = r.acc_backlog.hi;
  await make(db.pool, 'ranked2', 'acc_backlog', { ranks, notify: 'none' });
  const next = await db.pool.query(
    "SELECT max(fair_rank)::int AS hi FROM tasks WHERE kind = 'ranked2' AND fair_key = 'acc_backlog'",
  );
  assert.ok(next.rows[0].hi > before);
});

test('Notifier: inserts carry the wake-up; bursts with pauses lose none; under load few NOTIFYs go alone', async () => {
  const { db: dbq, sent } = counting();
  const notifier = new Notifier(dbq);
  const ranks = new FairRanks(dbq);
  const done = new Set<string>();
  // Polling is off for all practical purposes: only NOTIFY wakes this worker.
  const worker = makeWorker(
    db.pool,
    db.url,
    [{ kind: 'woken', handler: async (p) => void done.add((p as { id: string }).id) }],
    { pollIntervalMs: 600_000 },
  );
  await worker.start();
  try {
    let total = 0;
    // Small bursts: the race that loses a wake-up is a task committed while another insert's
    // NOTIFY is in flight (it may already be delivered), with nothing enqueued after it.
    for (let burst = 0; burst < 60; burst++) {
      const n = 2 + (burst % 3);
      await Promise.all(
        Array.from({ length: n }, async (_, i) => {
          await sleep(i % 2);
          await make(dbq, 'woken', `acc_${burst % 3}`, { ranks, notify: notifier });
        }),
      );
      total += n;
      // The worker drains and idles in the pause; only a NOTIFY after the last commit wakes it.
      await eventually(
        async () => done.size === total,
        `all ${total} tasks of ${burst + 1} bursts run`,
        10_000,
      );
      await sleep(5);
    }
    assert.ok(
      (sent.get('test.widget+task+notify') ?? 0) >= 60,
      'every burst’s first insert carries the NOTIFY',
    );
    // Under a steady load the inserts carry nearly every NOTIFY: few are sent on their own.
    const aloneBefore = sent.get('tasks.notify') ?? 0;
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        for (let i = 0; i < 40; i++) {
          await make(dbq, 'woken', 'acc_steady', { ranks, notify: notifier });
        }
      }),
    );
    total += 400;
    const alone = (sent.get('tasks.notify') ?? 0) - aloneBefore;
    assert.ok(alone <= 40, `${alone} NOTIFYs sent on their own for 400 inserts`);
    await eventually(async () => done.size === total, 'the steady load ran', 20_000);
  } finally {
    await worker.stop();
  }
});

test('Notifier: a wake-up handed to an insert that then rolls back is still sent', async () => {
  const { db: dbq, sent, finished } = counting();
  const notifier = new Notifier(dbq);
  notifier.wake(); // a task committed: a NOTIFY is owed
  assert.ok(notifier.carry(), 'the next insert takes the owed NOTIFY');
  notifier.carried(false); // … and fails: nothing was notified
  // Until it has returned it is in flight, and no insert may carry the next one.
  await eventually(
    async () => (finished.get('tasks.notify') ?? 0) === 1,
    'the owed NOTIFY sent on its own',
    5000,
  );
  assert.equal(sent.get('tasks.notify'), 1);
  const before = sent.get('tasks.notify');
  assert.ok(notifier.carry());
  notifier.carried(true); // committed: its own NOTIFY covered everything, nothing more to send
  await sleep(50);
  assert.equal(sent.get('tasks.notify'), before);
});
