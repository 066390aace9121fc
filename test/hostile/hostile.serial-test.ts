/**
 * Hostile input through the real api and worker processes: account A sends every input of
 * the generator (regex bombs, prototype names and huge or deep XMP, truncated and corrupt
 * streams, pixel and frame floods, HTML served as octet-stream) while account B sends
 * ordinary photos. Everything of A must end in its defined state, all of B must complete,
 * the worker must neither restart nor outgrow its unit's MemoryMax, and neither event loop
 * may stall (p99 delay under 100 ms).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { freePort } from '@imgkit/db';
import { jsonOf, newAccountWithKey, TEST_SECRET } from '../helpers/api.ts';
import { CORPUS } from '../helpers/corpus.ts';
import { freshDatabase } from '../helpers/db.ts';
import { startServer } from '../helpers/http.ts';
import { hostileInputs } from './generate.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const db = await freshDatabase();
const dataDir = await mkdtemp(path.join(tmpdir(), 'imgkit-hostile-'));
const metricsPort = await freePort();
const env = {
  ...process.env,
  DATABASE_URL: db.url,
  DATA_DIR: dataDir,
  SECRET_KEY: TEST_SECRET,
  URL_SIGNING_KEY: TEST_SECRET,
  PORT: '0',
  FETCH_ALLOW_PRIVATE_NETWORKS: 'true', // the hostile pages are served from loopback
  WORKER_CONCURRENCY: '4',
  MEDIA_THREADS: '2',
  METRICS_HOST: `127.0.0.1:${metricsPort}`,
  LOG_LEVEL: 'warn',
  PROCESS_IMAGE_MAX_ATTEMPTS: '2',
  PROCESS_IMAGE_BACKOFF_MS: '100',
};

function start(entry: string, ready: string): Promise<{ child: ChildProcess; port?: number }> {
  const child = spawn(process.execPath, [path.join(ROOT, entry)], {
    env,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  after(() => {
    child.kill('SIGKILL');
  });
  return new Promise((resolve, reject) => {
    child.on(
      'message',
      (m: { type: string; port?: number }) => m.type === ready && resolve({ child, port: m.port }),
    );
    child.once('exit', (code) => reject(new Error(`${entry} exited ${code}`)));
  });
}

/** Resident memory of a process, bytes (threads included). */
function rss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

function memoryMax(): number {
  const unit = readFileSync(path.join(ROOT, 'deploy/systemd/imgkit-worker.service'), 'utf8');
  const m = /^MemoryMax=(\d+)([KMG])$/m.exec(unit)!;
  return Number(m[1]) * { K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2] as 'K' | 'M' | 'G'];
}

async function loopDelayP99(url: string): Promise<number> {
  const text = await (await fetch(url)).text();
  return Number(/imgkit_event_loop_delay_seconds\{quantile="0\.99"\} ([\d.e-]+)/.exec(text)?.[1]);
}

test('hostile inputs from one account: defined failures, no stall, no restart, bounded memory; the other account is served', async (t) => {
  const api = await start('apps/api/src/main.ts', 'listening');
  const worker = await start('apps/worker/src/main.ts', 'ready');
  const base = `http://127.0.0.1:${api.port}`;
  const a = await newAccountWithKey(db.pool, 'hostile');
  const b = await newAccountWithKey(db.pool, 'ordinary');
  const inputs = hostileInputs();
  const served = new Map(inputs.filter((h) => h.via === 'url').map((h, i) => [`/h${i}`, h]));
  const source = await startServer((req, res) => {
    const h = served.get(req.url ?? '');
    if (!h) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': h.contentType }).end(h.bytes);
  });

  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rss(worker.child.pid!));
  }, 50);

  const post = (auth: Record<string, string>, init: RequestInit) =>
    fetch(`${base}/v1/images`, {
      method: 'POST',
      ...init,
      headers: { ...auth, ...(init.headers ?? {}) },
    }).then(async (r) => ({ status: r.status, body: await jsonOf(r) }));
  const photos = readdirSync(path.join(CORPUS, 'camera-exif'))
    .filter((f) => f.endsWith('.jpg'))
    .slice(0, 12);
  const [hostile, ordinary] = await Promise.all([
    Promise.all(
      inputs.map((h) => {
        if (h.via === 'url') {
          const url = `${source.url}/h${[...served.values()].indexOf(h)}`;
          return post(a.auth, {
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ url }),
          });
        }
        return post(a.auth, { headers: { 'Content-Type': h.contentType }, body: h.bytes });
      }),
    ),
    Promise.all(
      photos.map((f) =>
        post(b.auth, {
          headers: { 'Content-Type': 'image/jpeg' },
          body: readFileSync(path.join(CORPUS, 'camera-exif', f)),
        }),
      ),
    ),
  ]);
  for (const [i, r] of hostile.entries())
    assert.equal(r.status, 202, `${inputs[i].name}: ${JSON.stringify(r.body)}`);
  for (const r of ordinary) assert.equal(r.status, 202);

  const ids = [...hostile, ...ordinary].map((r) => r.body.id as string);
  const deadline = Date.now() + 180_000;
  for (;;) {
    const { rows } = await db.pool.query(
      "SELECT count(*)::int AS n FROM images WHERE id = ANY($1) AND status IN ('completed', 'failed')",
      [ids],
    );
    if (rows[0].n === ids.length) break;
    assert.ok(Date.now() < deadline, `${rows[0].n}/${ids.length} settled before the deadline`);
    await new Promise((r) => setTimeout(r, 100));
  }
  clearInterval(sampler);

  for (const [i, h] of inputs.entries()) {
    const img = await jsonOf(await fetch(`${base}/v1/images/${hostile[i].body.id}`, { headers: a.auth }));
    if (h.expect.status === 'completed') {
      assert.equal(img.status, 'completed', `${h.name}: ${JSON.stringify(img.error)}`);
    } else {
      assert.equal(img.status, 'failed', h.name);
      assert.ok(h.expect.codes.includes(img.error.code), `${h.name}: ${img.error.code}`);
    }
  }
  for (const r of ordinary) {
    const img = await jsonOf(await fetch(`${base}/v1/images/${r.body.id}`, { headers: b.auth }));
    assert.equal(img.status, 'completed', JSON.stringify(img.error));
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(worker.child.exitCode, null, 'the worker never exited');
  assert.equal(worker.child.signalCode, null);
  assert.ok(peak < memoryMax(), `worker RSS peaked at ${(peak / 2 ** 20).toFixed(0)} MiB`);
  const workerP99 = await loopDelayP99(`http://127.0.0.1:${metricsPort}/metrics`);
  const apiP99 = await loopDelayP99(`${base}/metrics`);
  t.diagnostic(
    `worker RSS peak ${(peak / 2 ** 20).toFixed(0)} MiB (MemoryMax ${(memoryMax() / 2 ** 20).toFixed(0)} MiB); ` +
      `event loop p99: worker ${(workerP99 * 1000).toFixed(1)} ms, api ${(apiP99 * 1000).toFixed(1)} ms`,
  );
  assert.ok(workerP99 < 0.1, `worker event loop p99 ${workerP99} s`);
  assert.ok(apiP99 < 0.1, `api event loop p99 ${apiP99} s`);
  const { rows } = await db.pool.query(
    "SELECT count(*)::int AS n FROM images WHERE status IN ('pending', 'processing')",
  );
  assert.equal(rows[0].n, 0, 'nothing is left processing');
});
