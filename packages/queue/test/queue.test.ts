import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, test } from 'node:test';
import { createPool, query, sql, withTransaction } from '@imgkit/db';
import {
  backoffDelayMs,
  cancelTasksForSubjects,
  enqueue,
  outageError,
  permanentError,
  requeueFailedTask,
  retryableError,
  type TaskError,
  taskStats,
} from '@imgkit/queue';
import pg from 'pg';
import { freshDatabase } from '../../../test/helpers/db.ts';
import { Claimer, claim } from '../src/claimer.ts';
import { idArray } from '../src/id-array.ts';
import type { ClaimedTask } from '../src/kind.ts';
import { Outcomes } from '../src/outcomes.ts';
import { eventually, makeWorker, silentLogger, statusCounts } from './helpers.ts';

const db = await freshDatabase();
after(() => db.pool.end()); // every worker of this file is stopped inside its test
await db.pool.query(
  'CREATE TABLE effects (task_id text NOT NULL, worker text NOT NULL, at timestamptz DEFAULT now())',
);
const recordEffect = sql('test.effect', 'INSERT INTO effects (task_id, worker) VALUES ($1, $2)');

async function enqueueMany(
  kind: string,
  n: number,
  payload: (i: number) => unknown = (i) => ({ i }),
  options: Parameters<typeof enqueue>[3] = {},
) {
  await withTransaction(db.pool, async (tx) => {
    for (let i = 0; i < n; i++) await enqueue(tx, kind, payload(i), options);
  });
}

test('full-jitter backoff stays within [0, min(cap, base·2^(n-1)))', () => {
  const policy = { baseMs: 100, capMs: 1000 };
  assert.equal(
    backoffDelayMs(1, policy, () => 0.999999),
    99,
  );
  assert.equal(
    backoffDelayMs(3, policy, () => 0.5),
    200,
  );
  assert.equal(
    backoffDelayMs(10, policy, () => 0.999999),
    999,
  );
  assert.equal(
    backoffDelayMs(4, policy, () => 0),
    0,
  );
});

test('task ids go to PostgreSQL as one array literal only when nothing in them needs quoting', async () => {
  const ids = ['tsk_2Jx9Z0aa', 'tsk_b_1'];
  assert.equal(idArray(ids), '{tsk_2Jx9Z0aa,tsk_b_1}');
  for (const odd of ['NULL', 'tsk_a,b', 'tsk_"q', 'tsk_a}', 'tsk_ a', 'tsk_a\\'])
    assert.deepEqual(idArray([...ids, odd]), [...ids, odd], odd);
  // What PostgreSQL reads from the literal is the list itself.
  const { rows } = await db.pool.query('SELECT $1::text[] AS a', [idArray(ids)]);
  assert.deepEqual(rows[0].a, ids);
});

test('4 workers × 2,000 tasks: every side effect happens exactly once', async () => {
  const pools = Array.from({ length: 4 }, () => createPool({ connectionString: db.url, max: 6 }));
  const workers = pools.map((pool, w) =>
    makeWorker(
      pool,
      db.url,
      [
        {
          kind: 'effect',
          handler: async (_p, ctx) => void (await query(pool, recordEffect, [ctx.task.id, `w${w}`])),
        },
      ],
      { concurrency: 8 },
    ),
  );
  await Promise.all(workers.map((w) => w.start()));
  await enqueueMany('effect', 2000);
  await eventually(async () => (await statusCounts(db.pool, 'effect')).completed === 2000, '2000 completed');
  await Promise.all(workers.map((w) => w.stop()));
  await Promise.all(pools.map((p) => p.end()));
  const r = await db.pool.query(
    "SELECT count(*)::int AS n, count(DISTINCT task_id)::int AS d, count(DISTINCT worker)::int AS w FROM effects e JOIN tasks t ON t.id = e.task_id WHERE t.kind = 'effect'",
  );
  assert.deepEqual(r.rows[0], { n: 2000, d: 2000, w: 4 });
});

test('a worker killed with SIGKILL mid-task: another worker re-runs its tasks after the lease expires', async () => {
  await enqueueMany('slow', 3);
  const child = spawn(process.execPath, [new URL('./fixtures/slow-worker.ts', import.meta.url).pathname], {
    env: { ...process.env, QUEUE_TEST_DB_URL: db.url, QUEUE_TEST_LEASE_MS: '1000' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  await eventually(async () => (out.match(/started/g) ?? []).length === 3, 'child started 3 tasks');
  child.kill('SIGKILL');
  await once(child, 'exit');
  assert.equal((await statusCounts(db.pool, 'slow')).running, 3, 'still running under the dead lease');

  const reran: string[] = [];
  const rescuer = makeWorker(db.pool, db.url, [
    {
      kind: 'slow',
      handler: async (_p, ctx) => {
        reran.push(ctx.task.id);
      },
    },
  ]);
  await rescuer.start();
  await eventually(
    async () => (await statusCounts(db.pool, 'slow')).completed === 3,
    'rescued tasks completed',
  );
  await rescuer.stop();
  assert.equal(reran.length, 3);
  const rows = await db.pool.query("SELECT attempts, status FROM tasks WHERE kind = 'slow'");
  assert.ok(rows.rows.every((r) => r.attempts === 2 && r.status === 'completed'));
});

test('fails k times then succeeds: attempts = k + 1 and run_at gaps follow the backoff formula', async () => {
  const k = 3;
  const policy = { baseMs: 40, capMs: 100 };
  const gaps: number[] = [];
  const worker = makeWorker(
    db.pool,
    db.url,
    [
      {
        kind: 'flaky',
        backoff: policy,
        handler: async (_p, ctx) => {
          if (ctx.task.attempts <= k) throw retryableError('upstream_503', `attempt ${ctx.task.attempts}`);
        },
        // now() is the transaction's timestamp, the same one the retry UPDATE used.
        onRetry: async (tx, _task, _err, runAt) => {
          const [{ now }] = await query<{ now: Date }>(tx, sql('test.now', 'SELECT now()'));
          gaps.push(runAt.getTime() - now.getTime());
        },
      },
    ],
    { random: () => 0.999999 },
  );
  await worker.start();
  const { id } = (await enqueue(db.pool, 'flaky', {}, { maxAttempts: 10 }))!;
  await eventually(async () => (await statusCounts(db.pool, 'flaky')).completed === 1, 'flaky completed');
  await worker.stop();
  const [task] = (await db.pool.query('SELECT attempts, status, last_error FROM tasks WHERE id = $1', [id]))
    .rows;
  assert.equal(task.attempts, k + 1);
  assert.equal(task.last_error.code, 'upstream_503', 'the last error is kept for inspection');
  const expected = [1, 2, 3].map((n) => backoffDelayMs(n, policy, () => 0.999999));
  assert.deepEqual(expected, [39, 79, 99]);
  assert.deepEqual(gaps, expected);
});

test('an outage of our own (the blob store) is retried for as long as it lasts without using attempts', async () => {
  let calls = 0;
  const worker = makeWorker(
    db.pool,
    db.url,
    [
      {
        kind: 'needs_store',
        handler: async () => {
          // Down for five tries: more than max_attempts (2) would allow if they counted.
          if (++calls <= 5) throw outageError('storage_unavailable', 'S3 unreachable');
        },
      },
    ],
    { outageRetryMs: 20 },
  );
  await worker.start();
  const { id } = (await enqueue(db.pool, 'needs_store', {}, { maxAttempts: 2 }))!;
  await eventually(async () => (await statusCounts(db.pool, 'needs_store')).completed === 1, 'completed');
  await worker.stop();
  const [task] = (await db.pool.query('SELECT attempts, last_error FROM tasks WHERE id = $1', [id])).rows;
  assert.equal(calls, 6);
  assert.equal(task.attempts, 1, 'the five outages used no attempt');
  assert.equal(task.last_error.code, 'storage_unavailable');
});

test('the claim reads a few index entries, not the table: 20,000 ready tasks with current statistics', async () => {
  // A database of its own: a queue of mostly ready tasks is the case that went wrong.
  const own = await freshDatabase();
  // Ids in no particular order against the heap, as after some churn.
  await own.pool.query(
    "INSERT INTO tasks (id, kind) SELECT 'tsk_' || substr(md5(g::text), 1, 27), 'plan_probe' FROM generate_series(1, 20000) g",
  );
  await own.pool.query('ANALYZE tasks');
  const client = await own.pool.connect();
  try {
    // Before PostgreSQL 18 every call of a SQL function runs its generic plan (parameters
    // unknown); 18 caches the plan and may keep custom ones. Force the generic plan, as on 15,
    // for the function that picks and for the worker's statement around it.
    await client.query('SET plan_cache_mode = force_generic_plan');
    await client.query(`PREPARE probe_claim (text, integer, text[], float8) AS ${claim.text}`);
    await client.query("EXECUTE probe_claim('probe', 2, '{plan_probe}', 30000)");
    const { rows } = await client.query(
      "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE probe_claim('probe', 2, '{plan_probe}', 30000)",
    );
    const plan = rows[0]['QUERY PLAN'][0].Plan;
    const blocks = plan['Shared Hit Blocks'] + plan['Shared Read Blocks'];
    // A hash join over the whole table (the generic plan's choice before 0005) touched ~20,000.
    assert.ok(blocks < 500, `one claim of 2 touched ${blocks} buffers`);
    assert.equal(JSON.stringify(plan).includes('Seq Scan'), false, 'no sequential scan');
  } finally {
    client.release();
    await own.pool.end();
  }
});

test('cancelling a row’s pending tasks reads the index of pending subjects, which finished tasks never enter', async () => {
  const own = await freshDatabase();
  try {
    // A retained history of 30,000 finished tasks with subjects beside 300 pending ones.
    await own.pool.query(
      `INSERT INTO tasks (id, kind, status, subject_id, finished_at)
       SELECT 'tsk_' || substr(md5(g::text), 1, 27), 'subject_probe',
              CASE WHEN g % 100 = 0 THEN 'pending' ELSE 'completed' END, 'img_' || g,
              CASE WHEN g % 100 = 0 THEN NULL ELSE now() END
       FROM generate_series(1, 30000) g`,
    );
    await own.pool.query('ANALYZE tasks');
    const { rows: size } = await own.pool.query(
      "SELECT pg_relation_size('tasks_subject_pending') / current_setting('block_size')::int AS pages",
    );
    // 300 entries fit in a leaf page or two (with the metapage); 30,000 would take ~100.
    assert.ok(Number(size[0].pages) <= 4, `${size[0].pages} pages: finished tasks have entries`);
    const client = await own.pool.connect();
    try {
      // The generic plan, which a pooled statement gets after five runs, for both forms of the cancel.
      await client.query('SET plan_cache_mode = force_generic_plan');
      await client.query(
        "PREPARE one (text) AS DELETE FROM tasks WHERE subject_id = $1 AND status = 'pending'",
      );
      await client.query(
        "PREPARE many (text[]) AS DELETE FROM tasks WHERE subject_id = ANY($1) AND status = 'pending'",
      );
      for (const statement of ["one('img_100')", "many('{img_100,img_200}')"]) {
        const { rows } = await client.query(`EXPLAIN (FORMAT JSON) EXECUTE ${statement}`);
        const plan = JSON.stringify(rows[0]['QUERY PLAN']);
        assert.match(plan, /tasks_subject_pending/, `${statement}: ${plan}`);
        assert.doesNotMatch(plan, /Seq Scan/, `${statement}: ${plan}`);
      }
    } finally {
      client.release();
    }
    // Through the queue's own function: img_100's pending task goes, img_101's finished one stays.
    await cancelTasksForSubjects(own.pool, ['img_100', 'img_101']);
    const { rows } = await own.pool.query(
      "SELECT subject_id, status FROM tasks WHERE subject_id IN ('img_100', 'img_101') ORDER BY 1",
    );
    assert.deepEqual(rows, [{ subject_id: 'img_101', status: 'completed' }]);
  } finally {
    await own.pool.end();
  }
});

test('completions and hand-backs find their tasks by primary key, not by reading every running task, whatever the statistics', async () => {
  const own = await freshDatabase();
  const N = 3000;
  // Statistics taken while every task was pending: the planner believes that none run, so the
  // partial index of running tasks looks empty — and cheaper than N primary-key probes.
  await own.pool.query(
    "INSERT INTO tasks (id, kind) SELECT 'tsk_' || substr(md5(g::text), 1, 27), 'stats_probe' FROM generate_series(1, $1::int) g",
    [N],
  );
  await own.pool.query('ANALYZE tasks');
  let ran = 0;
  const worker = makeWorker(own.pool, own.url, [{ kind: 'stats_probe', handler: async () => void ran++ }], {
    concurrency: 10,
  });
  await worker.start();
  await eventually(async () => ran === N, 'every task ran');
  await worker.stop();
  await own.pool.end(); // its backends report their index reads as they exit
  const reader = new pg.Client({ connectionString: own.url });
  await reader.connect();
  const reads = async () => {
    const { rows } = await reader.query(
      "SELECT indexrelname AS name, idx_tup_read::int AS n FROM pg_stat_user_indexes WHERE relname = 'tasks' AND indexrelname IN ('tasks_pkey', 'tasks_leases')",
    );
    return Object.fromEntries(rows.map((r) => [r.name, r.n])) as Record<string, number>;
  };
  try {
    // Every task was updated twice (claimed, completed): wait until that much is reported.
    await eventually(async () => {
      await reader.query('SELECT pg_stat_clear_snapshot()');
      const { rows } = await reader.query(
        "SELECT n_tup_upd::int AS n FROM pg_stat_user_tables WHERE relname = 'tasks'",
      );
      return rows[0].n >= 2 * N;
    }, 'the updates reported');
    const { tasks_leases, tasks_pkey } = await reads();
    assert.ok(tasks_pkey >= N, `tasks_pkey: ${tasks_pkey} entries read for ${N} tasks`);
    // Before, each completion read the whole index of running tasks (prefetched ones and dead
    // entries too): 2.8 entries per task here, more the more tasks run. Now only the sweep for
    // expired leases reads it.
    assert.ok(tasks_leases < N / 10, `tasks_leases: ${tasks_leases} entries read for ${N} tasks`);
  } finally {
    await reader.end();
  }
});

test('short tasks are prefetched under lease; a stop hands them back unstarted with their attempts', async () => {
  const own = await freshDatabase();
  let ran = 0;
  const worker = makeWorker(own.pool, own.url, [
    { kind: 'quick', handler: async () => void ran++ },
    { kind: 'slowish', handler: () => new Promise((r) => setTimeout(r, 20)) },
  ]);
  await worker.start();
  // Learn that tasks are short, then queue a backlog of 20 ms tasks (still "short").
  await withTransaction(own.pool, async (tx) => {
    for (let i = 0; i < 20; i++) await enqueue(tx, 'quick', {});
  });
  await eventually(async () => ran === 20, 'quick tasks ran');
  await withTransaction(own.pool, async (tx) => {
    for (let i = 0; i < 200; i++) await enqueue(tx, 'slowish', {});
  });
  let heldMax = 0;
  for (let i = 0; i < 20; i++) {
    const r = await own.pool.query(
      "SELECT count(*)::int AS n FROM tasks WHERE status = 'running' AND locked_by = $1",
      [worker.id],
    );
    heldMax = Math.max(heldMax, r.rows[0].n);
    await new Promise((res) => setTimeout(res, 10));
  }
  assert.ok(heldMax > 4, `more tasks held under lease (${heldMax}) than the 4 slots`);
  await worker.stop();
  const left = await own.pool.query(
    `SELECT count(*) FILTER (WHERE status = 'running')::int AS running,
            count(*) FILTER (WHERE status = 'pending' AND attempts <> 0)::int AS charged
       FROM tasks WHERE kind = 'slowish'`,
  );
  assert.deepEqual(
    left.rows[0],
    { running: 0, charged: 0 },
    'nothing left leased; no attempt used by an unstarted task',
  );
  await own.pool.end();
});

test('the prefetch is bounded by time: 30 ms tasks are held one per slot ahead, not ten', async () => {
  const own = await freshDatabase();
  const started = new Set<string>();
  const worker = makeWorker(own.pool, own.url, [
    {
      kind: 'paced',
      handler: (_p, ctx) => {
        started.add(ctx.task.id);
        return new Promise((r) => setTimeout(r, 30));
      },
    },
  ]);
  await worker.start();
  await withTransaction(own.pool, async (tx) => {
    for (let i = 0; i < 12; i++) await enqueue(tx, 'paced', {});
  });
  await eventually(async () => started.size === 12, 'the first tasks ran (their duration is learnt)');
  await withTransaction(own.pool, async (tx) => {
    for (let i = 0; i < 100; i++) await enqueue(tx, 'paced', {});
  });
  // Held ahead = leased to this worker but not started by a handler. Counting every 'running'
  // row would also count finished tasks whose batched completion is not written yet.
  let aheadMax = 0;
  for (let i = 0; i < 20; i++) {
    const r = await own.pool.query<{ id: string }>(
      "SELECT id FROM tasks WHERE status = 'running' AND locked_by = $1",
      [worker.id],
    );
    aheadMax = Math.max(aheadMax, r.rows.filter((row) => !started.has(row.id)).length);
    await new Promise((res) => setTimeout(res, 15));
  }
  // 4 slots and floor(50 ms / 30 ms) = 1 task ahead of each (2 if the average dips under 25 ms).
  assert.ok(aheadMax > 0, `some tasks held ahead (${aheadMax})`);
  assert.ok(aheadMax <= 8, `held ${aheadMax} ahead: at most about 50 ms of work ahead of each of 4 slots`);
  await worker.stop();
  await own.pool.end();
});

test('long tasks are not prefetched: two workers share a short backlog', async () => {
  const own = await freshDatabase();
  const byWorker = new Map<string, number>();
  const mk = (name: string) =>
    makeWorker(
      own.pool,
      own.url,
      [
        {
          kind: 'long',
          handler: async () => {
            byWorker.set(name, (byWorker.get(name) ?? 0) + 1);
            await new Promise((r) => setTimeout(r, 150));
          },
        },
      ],
      { concurrency: 1, workerId: name },
    );
  const a = mk('a');
  const b = mk('b');
  await a.start();
  await b.start();
  await withTransaction(own.pool, async (tx) => {
    for (let i = 0; i < 6; i++) await enqueue(tx, 'long', {});
  });
  await eventually(async () => (await statusCounts(own.pool, 'long')).completed === 6, 'all ran');
  await a.stop();
  await b.stop();
  assert.ok((byWorker.get('a') ?? 0) >= 2 && (byWorker.get('b') ?? 0) >= 2, JSON.stringify([...byWorker]));
  await own.pool.end();
});

test('concurrency changes at run time: more slots at once, fewer after the running finish, nothing dropped', async () => {
  const own = await freshDatabase();
  let running = 0;
  const peaks: number[] = [];
  let phasePeak = 0;
  let done = 0;
  const worker = makeWorker(
    own.pool,
    own.url,
    [
      {
        kind: 'work',
        handler: async () => {
          running++;
          phasePeak = Math.max(phasePeak, running);
          await new Promise((r) => setTimeout(r, 60));
          running--;
          done++;
        },
      },
    ],
    { concurrency: 1 },
  );
  await worker.start();
  await withTransaction(own.pool, async (tx) => {
    for (let i = 0; i < 30; i++) await enqueue(tx, 'work', {});
  });
  await eventually(async () => done >= 3, 'three ran');
  peaks.push(phasePeak);
  phasePeak = 0;
  worker.setConcurrency(4);
  assert.equal(worker.concurrency, 4);
  await eventually(async () => done >= 15, 'more ran');
  peaks.push(phasePeak);
  worker.setConcurrency(2);
  await eventually(async () => running <= 2, 'running tasks finished down to the new limit');
  phasePeak = 0;
  await eventually(async () => done >= 25, 'still running');
  peaks.push(phasePeak);
  await eventually(async () => (await statusCounts(own.pool, 'work')).completed === 30, 'all completed');
  await worker.stop();
  assert.deepEqual(peaks, [1, 4, 2], 'the number of tasks running at once followed the setting');
  assert.throws(() => worker.setConcurrency(0), RangeError);
  await own.pool.end();
});

test('a handler over its kind’s timeout: its signal fires with task_timeout, and one that ignores the signal is not waited for', async () => {
  const reasons: string[] = [];
  const worker = makeWorker(db.pool, db.url, [
    {
      kind: 'listens',
      timeoutMs: 150,
      handler: (_p, ctx) =>
        new Promise<void>((_resolve, reject) => {
          ctx.signal.addEventListener('abort', () => {
            reasons.push((ctx.signal.reason as TaskError).code);
            reject(ctx.signal.reason);
          });
        }),
    },
    // Never settles and never reads its signal.
    { kind: 'deaf', timeoutMs: 150, handler: () => new Promise<void>(() => {}) },
  ]);
  await worker.start();
  const a = (await enqueue(db.pool, 'listens', {}, { maxAttempts: 1 }))!;
  const b = (await enqueue(db.pool, 'deaf', {}, { maxAttempts: 1 }))!;
  await eventually(
    async () =>
      (await db.pool.query("SELECT 1 FROM tasks WHERE id = ANY($1) AND status = 'failed'", [[a.id, b.id]]))
        .rowCount === 2,
    'both failed',
  );
  await worker.stop();
  const { rows } = await db.pool.query("SELECT last_error->>'code' AS code FROM tasks WHERE id = ANY($1)", [
    [a.id, b.id],
  ]);
  assert.deepEqual(
    rows.map((r) => r.code),
    ['task_timeout', 'task_timeout'],
  );
  assert.deepEqual(reasons, ['task_timeout']);
});

test('a permanent error fails at once; exhausting max_attempts fails with the last error', async () => {
  const finalFailures: string[] = [];
  const worker = makeWorker(db.pool, db.url, [
    {
      kind: 'doomed',
      handler: async () => {
        throw permanentError('not_an_image', 'the bytes are HTML');
      },
      onFinalFailure: async (_tx, task, err) => void finalFailures.push(`${task.id}:${err.code}`),
    },
    {
      kind: 'tired',
      backoff: { baseMs: 1, capMs: 5 },
      handler: async (_p, ctx) => {
        throw retryableError('timeout', `attempt ${ctx.task.attempts} timed out`);
      },
      onFinalFailure: async (_tx, task, err) => void finalFailures.push(`${task.id}:${err.code}`),
    },
  ]);
  await worker.start();
  const doomed = (await enqueue(db.pool, 'doomed', {}, { maxAttempts: 5 }))!;
  const tired = (await enqueue(db.pool, 'tired', {}, { maxAttempts: 3 }))!;
  await eventually(
    async () =>
      (await statusCounts(db.pool, 'doomed')).failed === 1 &&
      (await statusCounts(db.pool, 'tired')).failed === 1,
    'both failed',
  );
  await worker.stop();
  const rows = (
    await db.pool.query('SELECT id, attempts, last_error FROM tasks WHERE id = ANY($1)', [
      [doomed.id, tired.id],
    ])
  ).rows;
  const byId = Object.fromEntries(rows.map((r) => [r.id, r]));
  assert.equal(byId[doomed.id].attempts, 1);
  assert.deepEqual(byId[doomed.id].last_error, { code: 'not_an_image', message: 'the bytes are HTML' });
  assert.equal(byId[tired.id].attempts, 3);
  assert.equal(byId[tired.id].last_error.message, 'attempt 3 timed out');
  assert.deepEqual(finalFailures.sort(), [`${doomed.id}:not_an_image`, `${tired.id}:timeout`].sort());

  // An operator can requeue a failed task.
  assert.ok(await requeueFailedTask(db.pool, doomed.id));
  assert.equal((await statusCounts(db.pool, 'doomed')).pending, 1);
  await db.pool.query('DELETE FROM tasks WHERE id = $1', [doomed.id]);
});

test('pg_terminate_backend on every worker connection mid-run: the run completes and work continues', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const pool = createPool({ connectionString: db.url, max: 4 });
  const ran: string[] = [];
  const worker = makeWorker(pool, db.url, [
    {
      kind: 'gated',
      handler: async (_p, ctx) => {
        await gate;
        ran.push(ctx.task.id);
      },
    },
  ]);
  await worker.start();
  await enqueue(db.pool, 'gated', {});
  await eventually(async () => (await statusCounts(db.pool, 'gated')).running === 1, 'task running');
  const killed = await db.pool.query(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
     WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name IN ('imgkit', 'imgkit-listener')`,
  );
  assert.ok(killed.rowCount! >= 1);
  // The test's own pool lost its connections too; it reconnects on the next query.
  release();
  await eventually(
    async () =>
      (await statusCounts(db.pool, 'gated').catch(() => ({}) as Record<string, number>)).completed === 1,
    'completed after reconnect',
  );
  await enqueue(db.pool, 'gated', {});
  await eventually(
    async () => (await statusCounts(db.pool, 'gated')).completed === 2,
    'a new task after reconnect',
  );
  await worker.stop();
  await pool.end();
  assert.equal(ran.length, 2);
});

test('graceful shutdown: finished tasks complete, unfinished ones are handed back and nothing stays running', async () => {
  let started = 0;
  const worker = makeWorker(db.pool, db.url, [
    {
      kind: 'mixed',
      handler: async (payload, ctx) => {
        started++;
        const { ms } = payload as { ms: number };
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(resolve, ms);
          ctx.signal.addEventListener('abort', () => {
            clearTimeout(t);
            reject(ctx.signal.reason);
          });
        });
      },
    },
  ]);
  await worker.start();
  await withTransaction(db.pool, async (tx) => {
    await enqueue(tx, 'mixed', { ms: 50 });
    await enqueue(tx, 'mixed', { ms: 60_000 });
    await enqueue(tx, 'mixed', { ms: 60_000 });
  });
  // All three handlers started. (Rows marked running are not enough: the claim commits before
  // the worker has its reply, and a stop that begins in between hands the claimed tasks straight
  // back — which on a loaded machine made all three pending.)
  try {
    await eventually(async () => started === 3, 'three started');
  } finally {
    await worker.stop(300);
  }
  const counts = await statusCounts(db.pool, 'mixed');
  assert.deepEqual(counts, { completed: 1, pending: 2 });
  const handedBack = await db.pool.query(
    "SELECT attempts FROM tasks WHERE kind = 'mixed' AND status = 'pending'",
  );
  assert.ok(
    handedBack.rows.every((r) => r.attempts === 0),
    'a shutdown does not use up an attempt',
  );
  await db.pool.query("DELETE FROM tasks WHERE kind = 'mixed'");
});

test('a notification that never arrives: the task still runs by polling', async () => {
  const ran: string[] = [];
  const worker = makeWorker(
    db.pool,
    undefined as unknown as string,
    [{ kind: 'quiet', handler: async (_p, ctx) => void ran.push(ctx.task.id) }],
    { pollIntervalMs: 150, listenConnectionString: undefined },
  );
  await worker.start();
  await new Promise((r) => setTimeout(r, 50));
  const t = (await enqueue(db.pool, 'quiet', {}, { notify: 'none' }))!;
  await eventually(async () => ran.includes(t.id), 'polled task ran');
  await worker.stop();
});

test('a scheduled task starts no earlier than its run_at, without polling for it', async () => {
  let startedAt = 0;
  const worker = makeWorker(
    db.pool,
    db.url,
    [
      {
        kind: 'later',
        handler: async () => {
          startedAt = Date.now();
        },
      },
    ],
    { pollIntervalMs: 60_000 },
  );
  await worker.start();
  const runAt = new Date(Date.now() + 400);
  await enqueue(db.pool, 'later', {}, { runAt });
  await eventually(async () => startedAt > 0, 'scheduled task ran');
  await worker.stop();
  assert.ok(startedAt >= runAt.getTime() - 5, 'not before run_at');
});

test('a task that becomes ready between a short claim and the look for the next one is claimed, not left for the poll', async () => {
  // The race: a claim runs a moment before a task's run_at and finds nothing; by the time the
  // claimer asks when to wake next, run_at has passed, so "the next scheduled task" no longer
  // includes it. Made certain here by holding that look back until after run_at; no poll runs.
  const pool = new Proxy(db.pool, {
    get(target, prop, receiver) {
      if (prop !== 'query') return Reflect.get(target, prop, receiver);
      return async (config: pg.QueryConfig) => {
        if (config.name === 'tasks.next_run_at') await new Promise((r) => setTimeout(r, 700));
        return target.query(config);
      };
    },
  });
  const started: ClaimedTask[] = [];
  const claimer = new Claimer({
    pool,
    workerId: 'race',
    kinds: ['edge'],
    leaseMs: 60_000,
    capacity: () => 1,
    running: () => started.length,
    start: (task) => started.push(task),
    log: silentLogger,
  });
  const task = (await enqueue(db.pool, 'edge', {}, { runAt: new Date(Date.now() + 350) }))!;
  claimer.wake(); // claims before run_at: nothing
  await eventually(async () => started.length === 1, 'the task was claimed', 10_000);
  await claimer.stop();
  assert.equal(started[0]!.id, task.id);
});

test('a worker that lost its lease cannot overwrite the new holder’s result', async () => {
  let releaseA!: () => void;
  const gateA = new Promise<void>((r) => {
    releaseA = r;
  });
  // One slot, held by the stalled task: A cannot claim the task back itself once its lease is
  // swept (by A's own poll or B's), so the new holder is B.
  const a = makeWorker(db.pool, db.url, [{ kind: 'fenced', handler: () => gateA }], {
    workerId: 'A',
    leaseMs: 60_000,
    concurrency: 1,
  });
  await a.start();
  const t = (await enqueue(db.pool, 'fenced', {}))!;
  await eventually(async () => (await statusCounts(db.pool, 'fenced')).running === 1, 'A holds it');
  // A stalls past its lease (simulated), B reclaims and fails it permanently.
  await db.pool.query("UPDATE tasks SET locked_until = now() - interval '1 second' WHERE id = $1", [t.id]);
  const b = makeWorker(
    db.pool,
    db.url,
    [
      {
        kind: 'fenced',
        handler: async () => {
          throw permanentError('b_result', 'B decided');
        },
      },
    ],
    { workerId: 'B' },
  );
  await b.start();
  await eventually(async () => (await statusCounts(db.pool, 'fenced')).failed === 1, 'B finished it');
  releaseA(); // A's handler now "succeeds" — its completion must not apply.
  await a.stop();
  await b.stop();
  const [row] = (await db.pool.query('SELECT status, last_error FROM tasks WHERE id = $1', [t.id])).rows;
  assert.equal(row.status, 'failed');
  assert.equal(row.last_error.code, 'b_result');
});

test('a worker that claims back a task it still runs (its own lease expired) stops the old attempt and runs the new one once', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const signals = new Map<number, AbortSignal>();
  let completions = 0;
  const worker = makeWorker(
    db.pool,
    db.url,
    [
      {
        kind: 'reclaimed_here',
        handler: async (_p, ctx) => {
          signals.set(ctx.task.attempts, ctx.signal);
          await gate;
          if (!ctx.signal.aborted) completions++;
        },
      },
    ],
    { workerId: 'self', concurrency: 2, leaseMs: 60_000 },
  );
  await worker.start();
  const t = (await enqueue(db.pool, 'reclaimed_here', {}))!;
  await eventually(async () => signals.has(1), 'the first attempt runs');
  // The worker stalled past its lease (simulated): its own sweep returns the task to the queue,
  // and with a free slot it claims it again.
  await db.pool.query("UPDATE tasks SET locked_until = now() - interval '1 second' WHERE id = $1", [t.id]);
  await eventually(async () => signals.has(2), 'the second attempt runs');
  assert.equal(signals.get(1)?.aborted, true, 'the attempt that lost its lease was stopped');
  assert.equal(signals.get(2)?.aborted, false);
  assert.equal(worker.runningCount, 1);
  release();
  await eventually(async () => (await statusCounts(db.pool, 'reclaimed_here')).completed === 1, 'completed');
  await worker.stop();
  const [row] = (await db.pool.query('SELECT attempts FROM tasks WHERE id = $1', [t.id])).rows;
  assert.equal(row.attempts, 2);
  assert.equal(completions, 1);
  assert.equal(worker.runningCount, 0);
});

test('a claim lost by a database crash (it commits without waiting for its WAL flush): the task runs once', async () => {
  // The claim commits asynchronously: PostgreSQL crashing right after it can lose it, leaving the
  // task pending with its attempts as before while this worker runs it. Simulated by putting the
  // row back; the worker then claims the task again with the same attempt number.
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  let runs = 0;
  let completions = 0;
  const worker = makeWorker(
    db.pool,
    db.url,
    [
      {
        kind: 'claim_lost',
        handler: async (_p, ctx) => {
          runs++;
          await gate;
          if (!ctx.signal.aborted) completions++;
        },
      },
    ],
    { workerId: 'crashed', concurrency: 2, leaseMs: 60_000 },
  );
  await worker.start();
  const client = await db.pool.connect();
  const synchronous = async () =>
    (await client.query<{ s: string }>('SELECT current_setting($1) AS s', ['synchronous_commit'])).rows[0]!.s;
  await client.query('BEGIN');
  await client.query({ ...claim, values: ['nobody', 1, ['sync_probe'], 1000] });
  assert.equal(await synchronous(), 'on', 'a claim that took nothing leaves the setting alone');
  await enqueue(client, 'sync_probe', {});
  assert.equal((await client.query({ ...claim, values: ['nobody', 1, ['sync_probe'], 1000] })).rowCount, 1);
  assert.equal(await synchronous(), 'off', 'the claim commits without waiting for the flush');
  await client.query('ROLLBACK');
  assert.equal(await synchronous(), 'on', 'only the claim’s own transaction');
  const t = (await enqueue(db.pool, 'claim_lost', {}))!;
  await eventually(async () => runs === 1, 'the attempt runs');
  await client.query(
    "UPDATE tasks SET status = 'pending', attempts = attempts - 1, locked_by = NULL, locked_until = NULL WHERE id = $1",
    [t.id],
  );
  await client.query("SELECT pg_notify('imgkit_tasks', '0')");
  await eventually(async () => (await statusCounts(db.pool, 'claim_lost')).running === 1, 'claimed again');
  release();
  await eventually(async () => (await statusCounts(db.pool, 'claim_lost')).completed === 1, 'completed');
  await worker.stop();
  const [row] = (await client.query('SELECT attempts FROM tasks WHERE id = $1', [t.id])).rows;
  client.release();
  assert.equal(row.attempts, 1);
  assert.equal(runs, 1, 'the claim of a task already running here with that attempt starts nothing');
  assert.equal(completions, 1);
  assert.equal(worker.runningCount, 0);
});

test('batched completions are fenced on each task’s own attempt, whatever the mix of attempts in one batch', async () => {
  // Tasks this worker holds on their 1st, 2nd and 3rd attempt, and one it held on attempt 2 but
  // which was reclaimed and is now on attempt 3 (running here again): that stale completion
  // must not apply, the others must, all from the same batch.
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) ids.push((await enqueue(db.pool, 'fence_mix', {}, { notify: 'none' }))!.id);
  const attempts = [1, 2, 3, 3];
  for (let i = 0; i < 4; i++) {
    await db.pool.query(
      "UPDATE tasks SET status = 'running', locked_by = 'W', attempts = $2, locked_until = now() + interval '1 minute' WHERE id = $1",
      [ids[i], attempts[i]],
    );
  }
  const held = (i: number, a: number) => ({ id: ids[i], attempts: a }) as ClaimedTask;
  const outcomes = new Outcomes(db.pool, 'W', 60_000);
  await Promise.all([
    outcomes.completeBatched(held(0, 1)),
    outcomes.completeBatched(held(1, 2)),
    outcomes.completeBatched(held(2, 3)),
    outcomes.completeBatched(held(3, 2)), // stale: the task is on attempt 3
  ]);
  const { rows } = await db.pool.query<{ id: string; status: string }>(
    'SELECT id, status FROM tasks WHERE id = ANY($1)',
    [ids],
  );
  const status = Object.fromEntries(rows.map((r) => [r.id, r.status]));
  assert.deepEqual(
    ids.map((id) => status[id]),
    ['completed', 'completed', 'completed', 'running'],
  );
});

test('tasks enqueued in one transaction (one run_at) are claimed in the order they were enqueued', async () => {
  // They share now(), so the claim's order comes down to their ids, made within a millisecond or
  // two: ids that sorted at random within a second claimed such a batch in random order.
  await enqueueMany('fifo', 300, (i) => ({ i }), { notify: 'none' });
  const order: number[] = [];
  for (;;) {
    const { rows } = await db.pool.query<{ payload: { i: number } }>({
      ...claim,
      values: ['fifo-claimer', 7, ['fifo'], 60_000],
    });
    if (rows.length === 0) break;
    // Within a claim too: its UPDATE probes the primary key for each picked id in pick order.
    order.push(...rows.map((r) => r.payload.i));
  }
  assert.deepEqual(
    order,
    Array.from({ length: 300 }, (_, i) => i),
  );
});

test('finished tasks are pruned after the retention; stats and dedupe keys work', async () => {
  await db.pool.query("UPDATE tasks SET finished_at = now() - interval '2 hours' WHERE kind = 'effect'");
  const worker = makeWorker(db.pool, db.url, [], { retentionMs: 3600_000 });
  await worker.prune();
  assert.deepEqual(await statusCounts(db.pool, 'effect'), {});
  const first = await enqueue(db.pool, 'dedupe', {}, { dedupeKey: 'only-one' });
  const second = await enqueue(db.pool, 'dedupe', {}, { dedupeKey: 'only-one' });
  assert.ok(first);
  assert.equal(second, undefined);
  const stats = await taskStats(db.pool);
  assert.ok(stats.some((s) => s.kind === 'dedupe' && s.status === 'pending' && s.count === 1));
});

test('a task id of the wrong shape is refused when inserted or set, by a domain, not a CHECK run at every status change', async () => {
  for (const bad of [
    'tsk_short',
    `img_${'a'.repeat(27)}`,
    `tsk_${'a'.repeat(26)}-`,
    `tsk_${'a'.repeat(27)}\n`,
  ]) {
    await assert.rejects(db.pool.query("INSERT INTO tasks (id, kind) VALUES ($1, 'shape')", [bad]), {
      code: '23514',
    });
  }
  const task = await enqueue(db.pool, 'shape', {});
  assert.ok(task);
  await assert.rejects(db.pool.query('UPDATE tasks SET id = $2 WHERE id = $1', [task.id, 'tsk_bad']), {
    code: '23514',
  });
  // PostgreSQL evaluates a table's CHECK constraints on every UPDATE; a pattern there would run
  // at each claim and completion.
  const { rows } = await db.pool.query(
    "SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'tasks'::regclass AND contype = 'c'",
  );
  assert.deepEqual(
    rows.filter((r) => r.def.includes('~')),
    [],
  );
  await db.pool.query('DELETE FROM tasks WHERE id = $1', [task.id]);
});

test('enqueue on the pool (one autocommit statement) wakes an idle worker by NOTIFY, without polling', async () => {
  const ran: string[] = [];
  const worker = makeWorker(
    db.pool,
    db.url,
    [{ kind: 'now', handler: async (_p, ctx) => void ran.push(ctx.task.id) }],
    {
      pollIntervalMs: 60_000,
    },
  );
  await worker.start();
  await new Promise((r) => setTimeout(r, 100)); // let the initial claim and LISTEN settle
  const { id } = (await enqueue(db.pool, 'now', { x: 1 }))!;
  await eventually(async () => ran.includes(id), 'woken by NOTIFY');
  await worker.stop();
});

test('fair claiming: with 2,000 tasks of account A queued, account B’s one task starts before A’s backlog drains', async () => {
  await withTransaction(db.pool, async (tx) => {
    for (let i = 0; i < 2000; i++)
      await enqueue(tx, 'fair', { who: 'A', i }, { fairKey: 'acc_A', notify: 'none' });
  });
  await enqueue(db.pool, 'fair', { who: 'B' }, { fairKey: 'acc_B', notify: 'none' });
  const started: string[] = [];
  const worker = makeWorker(
    db.pool,
    db.url,
    [
      {
        kind: 'fair',
        handler: async (p) => {
          started.push((p as { who: string }).who);
          await new Promise((r) => setTimeout(r, 2));
        },
      },
    ],
    { concurrency: 4 },
  );
  await worker.start();
  await eventually(async () => started.includes('B'), 'B started');
  await worker.stop();
  const aBeforeB = started.indexOf('B');
  // Counted, not timed: B waits for at most the claims already in flight, not for A's 2,000.
  assert.ok(aBeforeB <= 8, `${aBeforeB} of A's tasks started before B's`);
  // A keeps its own order.
  await db.pool.query("DELETE FROM tasks WHERE kind = 'fair'");
});

test('fair claiming: a new account that arrives while another drains starts at the head, not behind', async () => {
  await withTransaction(db.pool, async (tx) => {
    for (let i = 0; i < 50; i++)
      await enqueue(tx, 'fair2', { who: 'A' }, { fairKey: 'acc_A2', notify: 'none' });
  });
  const ranks = async () =>
    (
      await db.pool.query(
        "SELECT fair_key, min(fair_rank)::int AS lo, max(fair_rank)::int AS hi FROM tasks WHERE kind = 'fair2' AND status = 'pending' GROUP BY fair_key",
      )
    ).rows;
  await enqueue(db.pool, 'fair2', { who: 'C' }, { fairKey: 'acc_C2', notify: 'none' });
  const r = Object.fromEntries((await ranks()).map((x) => [x.fair_key, x]));
  assert.ok(
    r.acc_C2.lo <= r.acc_A2.lo + 1,
    `C (rank ${r.acc_C2.lo}) is not queued behind A's ${r.acc_A2.hi - r.acc_A2.lo + 1} tasks`,
  );
  await db.pool.query("DELETE FROM tasks WHERE kind = 'fair2'");
});
