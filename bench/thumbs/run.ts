/**
 * bench/thumbs: 200×200 cover JPEGs from 12–24 MP photo-like JPEGs at 10 connections
 * for a fixed time, side by side in one run:
 *   (a) our signed route, cold (every URL distinct)   (b) sharp called directly, same concurrency
 *   (c) ipx serving the same files                    (d) our route warm (disk-cache hits)
 *   vs express.static serving the same bytes.
 * Every contender is warmed up the same way first (URLs outside the measured set). Rounds in
 * rotating order; prints the medians of req/s, p99 and peak RSS of each server process, and
 * the ratios. BENCH_DURATION seconds per phase (default 10), BENCH_FILES (default 8),
 * BENCH_REPEATS rounds (default 3).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAccount } from '@imgkit/auth';
import { createPool } from '@imgkit/db';
import { newId } from '@imgkit/ids';
import { LocalBlobStore } from '@imgkit/storage';
import { signPath } from '@imgkit/urls';
import autocannon from 'autocannon';
import {
  benchDatabase,
  benchPostgres,
  fmt,
  freePort,
  median,
  percentile,
  processCpuMs,
  table,
} from '../lib.ts';
import { generatedPhotos } from '../photos.ts';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = 10;
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const SECRET = 'bench-secret-key-that-is-long-enough-0123456789';
const root = fileURLToPath(new URL('../../', import.meta.url));
const servers = path.join(root, 'bench/thumbs/servers.ts');

async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

async function forked(args: string[], env: NodeJS.ProcessEnv = {}, entry = servers) {
  const child = fork(entry, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [msg] = (await once(child, 'message')) as [{ port: number }];
  return { child, port: msg.port };
}

/**
 * Every server contender gets the same warm-up before it is measured: its threads started,
 * its modules loaded and its code compiled, as in a server that has run for a minute. The
 * warm-up URLs are outside the measured set, so the cold phases stay cold.
 */
async function warmUp(port: number, paths: string[]) {
  for (let k = 0; k < paths.length; k += CONNECTIONS) {
    await Promise.all(
      paths.slice(k, k + CONNECTIONS).map(async (p) => {
        const res = await fetch(`http://127.0.0.1:${port}${p}`);
        await res.arrayBuffer();
      }),
    );
  }
}

/** autocannon at the server on `port`; `pid` is the server's process, for its CPU per request. */
async function hammer(port: number, pid: number, paths: string[]) {
  let i = 0;
  const cpu0 = processCpuMs(pid);
  const r = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: DURATION,
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: paths[i++ % paths.length] }) }],
  });
  const cpuMs = processCpuMs(pid) - cpu0;
  return {
    rps: r.requests.average,
    p99: r.latency.p99,
    errors: r.non2xx + r.errors,
    cpuMsPerReq: cpuMs / Math.max(1, r.requests.total),
  };
}

async function stopChild(child: ChildProcess): Promise<number> {
  const rss = await peakRssMb(child.pid!);
  child.kill('SIGTERM');
  await once(child, 'exit');
  return rss;
}

async function main() {
  const photos = await generatedPhotos(Number(process.env.BENCH_FILES ?? 8));
  const photoDir = await mkdtemp(path.join(tmpdir(), 'imgkit-bench-photos-'));
  for (const p of photos) await writeFile(path.join(photoDir, p.name), p.bytes);

  // imgkit: the same files as completed images of one account.
  const { adminUrl, stop } = await benchPostgres();
  const url = await benchDatabase(adminUrl);
  const pool = createPool({ connectionString: url, max: 2 });
  const account = await createAccount(pool, 'bench');
  const dataDir = await mkdtemp(path.join(tmpdir(), 'imgkit-bench-thumbs-'));
  const blobs = new LocalBlobStore(path.join(dataDir, 'blobs'));
  const ids: string[] = [];
  for (const p of photos) {
    const id = newId('image');
    const key = `originals/${account.id}/${id}`;
    const stored = await blobs.putBuffer(key, p.bytes);
    await pool.query(
      `INSERT INTO images (id, account_id, source, status, storage_key, checksum, byte_size, content_type)
       VALUES ($1, $2, 'upload', 'completed', $3, $4, $5, 'image/jpeg')`,
      [id, account.id, key, stored.sha256, stored.byteSize],
    );
    ids.push(id);
  }
  const sign = (id: string, q: number) =>
    signPath(SECRET, { keyId: '1', width: 200, height: 200, fit: 'cover', quality: q }, id, 'jpg');
  const coldPaths = ids.flatMap((id) => Array.from({ length: 50 }, (_, q) => sign(id, 50 + q)));
  coldPaths.sort(() => 0); // order: image-major, so consecutive requests differ
  const interleaved = Array.from(
    { length: coldPaths.length },
    (_, k) => coldPaths[(k % ids.length) * 50 + Math.floor(k / ids.length)],
  );
  const warmPaths = ids.map((id) => sign(id, 80));
  // Qualities 30–39 are never measured: the warm-up's.
  const warmUpPaths = (n: number, pathOf: (k: number, q: number) => string) =>
    Array.from({ length: n }, (_, k) => pathOf(k, 30 + (Math.floor(k / photos.length) % 10)));
  const WARM_UP = 3 * CONNECTIONS;
  const apiEnv = {
    DATABASE_URL: url,
    SECRET_KEY: SECRET,
    URL_SIGNING_KEY: SECRET,
    DATA_DIR: dataDir,
    // autocannon cuts the requests in flight when a phase ends: warnings we need not see.
    LOG_LEVEL: 'error',
    NODE_ENV: 'production',
    PORT: String(await freePort()),
  };
  console.log(
    `# bench/thumbs: ${photos.length} JPEGs of 12–24 MP → 200×200 cover JPEG, ${CONNECTIONS} connections, ${DURATION} s per phase; node ${process.version}`,
  );

  type Result = { rps: number; p99: number; errors: number; rss: number; cpuMsPerReq: number };
  const cacheDir = path.join(dataDir, 'cache');
  const contenders: Record<string, () => Promise<Result>> = {
    // (a) our route, cold: a fresh process and an empty render cache every round
    cold: async () => {
      await rm(cacheDir, { recursive: true, force: true });
      const api = await forked([], apiEnv, path.join(root, 'apps/api/src/main.ts'));
      await warmUp(
        api.port,
        warmUpPaths(WARM_UP, (k, q) => sign(ids[k % ids.length], q)),
      );
      const r = await hammer(api.port, api.child.pid!, interleaved);
      return { ...r, rss: await stopChild(api.child) };
    },
    // (b) sharp directly
    sharp: async () => {
      const child = fork(
        servers,
        ['sharp', photoDir, String(DURATION), String(CONNECTIONS), String(WARM_UP)],
        {
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        },
      );
      const [out] = (await once(child, 'message')) as [
        { count: number; latencies: number[]; cpuMsPerRender: number },
      ];
      const rss = await stopChild(child);
      return {
        rps: out.count / DURATION,
        p99: Math.round(percentile(out.latencies, 99)),
        errors: 0,
        rss,
        cpuMsPerReq: out.cpuMsPerRender,
      };
    },
    // (c) ipx
    ipx: async () => {
      const ipx = await forked(['ipx', photoDir]);
      await warmUp(
        ipx.port,
        warmUpPaths(
          WARM_UP,
          (k, q) => `/s_200x200,fit_cover,q_${q},f_jpeg/${photos[k % photos.length].name}`,
        ),
      );
      const r = await hammer(ipx.port, ipx.child.pid!, ipxPaths);
      return { ...r, rss: await stopChild(ipx.child) };
    },
    // (d) our route warm (every rendering cached) vs express.static on the same bytes
    warm: async () => {
      const api = await forked([], apiEnv, path.join(root, 'apps/api/src/main.ts'));
      await warmUp(api.port, warmPaths);
      const r = await hammer(api.port, api.child.pid!, warmPaths);
      return { ...r, rss: await stopChild(api.child) };
    },
    static: async () => {
      const stat = await forked(['static', staticDir]);
      await warmUp(stat.port, staticPaths);
      const r = await hammer(stat.port, stat.child.pid!, staticPaths);
      return { ...r, rss: await stopChild(stat.child) };
    },
  };
  const ipxPaths = photos.flatMap((p) =>
    Array.from({ length: 50 }, (_, q) => `/s_200x200,fit_cover,q_${50 + q},f_jpeg/${p.name}`),
  );
  // The bytes express.static serves: our warm renderings, fetched once.
  const staticDir = path.join(dataDir, 'static');
  await mkdir(staticDir, { recursive: true });
  {
    const api = await forked([], apiEnv, path.join(root, 'apps/api/src/main.ts'));
    for (const [i, p] of warmPaths.entries()) {
      const res = await fetch(`http://127.0.0.1:${api.port}${p}`);
      await writeFile(path.join(staticDir, `${i}.jpg`), Buffer.from(await res.arrayBuffer()));
    }
    await stopChild(api.child);
  }
  const staticPaths = warmPaths.map((_, i) => `/${i}.jpg`);

  // Rounds in rotating order (this kind of VM drifts over a minute; one run of each turned the
  // drift into the ratio), medians reported. Each round starts every contender afresh.
  const results: Record<string, Result[]> = Object.fromEntries(
    Object.keys(contenders).map((name) => [name, [] as Result[]]),
  );
  const groups = [
    ['cold', 'sharp', 'ipx'],
    ['warm', 'static'],
  ];
  const perRound: string[] = [];
  for (let round = 0; round < REPEATS; round++) {
    for (const group of groups) {
      const order = group.map((_, k) => group[(k + round) % group.length]);
      for (const name of order) results[name].push(await contenders[name]());
    }
    const last = (name: string) => results[name][round].rps;
    perRound.push(
      `round ${round + 1}: a/b ${fmt(last('cold') / last('sharp'), 2)}  a/c ${fmt(last('cold') / last('ipx'), 2)}  d/static ${fmt(last('warm') / last('static'), 2)}`,
    );
  }
  const med = (name: string, f: keyof Result) => median(results[name].map((r) => r[f]));
  const labels: Record<string, string> = {
    cold: '(a) imgkit signed URL, cold',
    sharp: '(b) sharp called directly',
    ipx: '(c) ipx',
    warm: '(d) imgkit signed URL, warm (cache hits)',
    static: '    express.static, same bytes',
  };
  const rows = Object.entries(labels).map(([name, label]) => ({
    contender: label,
    'req/s': fmt(med(name, 'rps'), 1),
    'p99 ms': med(name, 'p99'),
    'peak RSS MB': fmt(med(name, 'rss')),
    'CPU ms/req': fmt(med(name, 'cpuMsPerReq'), 2),
    errors: results[name].reduce((sum, r) => sum + r.errors, 0),
  }));
  for (const line of perRound) console.log(`# ${line}`);
  console.log(table(rows));
  console.log(
    `\na/b ${fmt(med('cold', 'rps') / med('sharp', 'rps'), 2)}   a/c ${fmt(med('cold', 'rps') / med('ipx', 'rps'), 2)} (RSS ${fmt((100 * med('cold', 'rss')) / med('ipx', 'rss'))} % of ipx)   d/static ${fmt(med('warm', 'rps') / med('static', 'rps'), 2)}`,
  );
  await pool.end();
  await stop();
}

await main();
