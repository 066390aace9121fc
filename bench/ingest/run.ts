/**
 * bench/ingest: camera JPEGs from the corpus plus generated 12–24 MP photo-like JPEGs,
 * served from a loopback server, posted through the real api and processed by the real
 * worker process until every one is completed; in the same run the same extraction
 * function is called in-process with the same concurrency on the same bytes.
 * Prints images/s for both, the ratio, and the worker's peak RSS.
 * BENCH_CAMERA (default 40), BENCH_GENERATED (default 20), BENCH_CONCURRENCY (default: cores).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAccount, createApiKey } from '@imgkit/auth';
import { createPool } from '@imgkit/db';
import { extractImage } from '@imgkit/media';
import sharp from 'sharp';
import { benchDatabase, benchPostgres, fmt, freePort, table } from '../lib.ts';
import { cameraJpegs, corpusDir, generatedPhotos } from '../photos.ts';

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? availableParallelism());
const SECRET = 'bench-secret-key-that-is-long-enough-0123456789';
const root = fileURLToPath(new URL('../../', import.meta.url));
const LIMITS = { maxInputPixels: 100_000_000, maxFrames: 500, decodeTimeoutMs: 60_000 };

async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

function start(entry: string, env: NodeJS.ProcessEnv): ChildProcess {
  return fork(path.join(root, entry), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

async function inProcess(
  files: { bytes: Buffer }[],
  work: (bytes: Buffer) => Promise<unknown> = (b) => extractImage(b, LIMITS),
): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < files.length) await work(files[next++].bytes);
    }),
  );
  return files.length / ((performance.now() - t0) / 1000);
}

/** The decode floor: one full decode of each file to raw pixels, nothing else. */
const decodeOnly = (b: Buffer) => sharp(b, { failOn: 'none' }).raw().toBuffer();

async function main() {
  const files = [
    ...(await cameraJpegs(Number(process.env.BENCH_CAMERA ?? 40))),
    ...(await generatedPhotos(Number(process.env.BENCH_GENERATED ?? 20))),
  ];
  const totalMb = files.reduce((s, f) => s + f.bytes.length, 0) / 1e6;
  const source = createServer((req, res) => {
    const file = files[Number(req.url?.slice(1))];
    if (!file) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': file.bytes.length }).end(file.bytes);
  });
  await new Promise<void>((r) => source.listen(0, '127.0.0.1', () => r()));
  const sourcePort = (source.address() as { port: number }).port;

  const { adminUrl, stop } = await benchPostgres();
  const url = await benchDatabase(adminUrl);
  const pool = createPool({ connectionString: url, max: 2 });
  const account = await createAccount(pool, 'bench');
  const { key } = await createApiKey(pool, SECRET, account.id);
  const env = {
    DATABASE_URL: url,
    SECRET_KEY: SECRET,
    URL_SIGNING_KEY: SECRET,
    DATA_DIR: await mkdtemp(path.join(tmpdir(), 'imgkit-bench-ingest-')),
    FETCH_ALLOW_PRIVATE_NETWORKS: 'true',
    LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_MINUTE: '0',
    WORKER_CONCURRENCY: String(CONCURRENCY),
  };
  const apiPort = await freePort();
  const api = start('apps/api/src/main.ts', { ...env, PORT: String(apiPort) });
  await once(api, 'message');
  const worker = start('apps/worker/src/main.ts', env);
  await once(worker, 'message');
  console.log(
    `# bench/ingest: ${files.length} JPEGs (${fmt(totalMb, 1)} MB), concurrency ${CONCURRENCY}; camera JPEGs from ${corpusDir()}; node ${process.version}`,
  );

  const t0 = performance.now();
  for (let i = 0; i < files.length; i++) {
    const res = await fetch(`http://127.0.0.1:${apiPort}/v1/images`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: `http://127.0.0.1:${sourcePort}/${i}` }),
    });
    if (res.status !== 202) throw new Error(`POST answered ${res.status}`);
  }
  for (;;) {
    const r = await pool.query(
      "SELECT count(*) FILTER (WHERE status = 'completed')::int AS done, count(*) FILTER (WHERE status = 'failed')::int AS failed FROM images",
    );
    if (r.rows[0].failed > 0) throw new Error(`${r.rows[0].failed} images failed`);
    if (r.rows[0].done === files.length) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  const pipelineRate = files.length / ((performance.now() - t0) / 1000);
  const workerRss = await peakRssMb(worker.pid!);
  worker.kill('SIGTERM');
  api.kill('SIGTERM');
  await Promise.all([once(worker, 'exit'), once(api, 'exit')]);

  // Interleaved twice, so a noisy moment hurts both alike; the better of each is kept.
  const direct = Math.max(await inProcess(files), await inProcess(files));
  const floor = Math.max(await inProcess(files, decodeOnly), await inProcess(files, decodeOnly));
  console.log(
    table([
      { path: 'API → queue → worker (download, store, extract)', 'images/s': fmt(pipelineRate, 2) },
      { path: 'extractImage in-process, same bytes', 'images/s': fmt(direct, 2) },
      { path: 'decode floor: one full decode (sharp → raw), same bytes', 'images/s': fmt(floor, 2) },
    ]),
  );
  console.log(
    `\nratio pipeline / in-process: ${fmt(pipelineRate / direct, 2)}   extractImage / decode floor: ${fmt(direct / floor, 2)}   worker peak RSS: ${fmt(workerRss)} MB`,
  );
  source.close();
  await pool.end();
  await stop();
}

await main();
