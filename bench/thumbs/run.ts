/**
 * bench/thumbs: 200×200 cover JPEGs from 12–24 MP photo-like JPEGs at 10 connections
 * for a fixed time, side by side in one run:
 *   (a) our signed route, cold (every URL distinct)   (b) sharp called directly, same concurrency
 *   (c) ipx serving the same files                    (d) our route warm (disk-cache hits)
 *   vs express.static serving the same bytes.
 * Prints req/s, p99 and peak RSS of each server process, and the ratios.
 * BENCH_DURATION seconds per phase (default 10), BENCH_FILES (default 8).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAccount } from '@imgkit/auth';
import { createPool } from '@imgkit/db';
import { newId } from '@imgkit/ids';
import { LocalBlobStore } from '@imgkit/storage';
import { signPath } from '@imgkit/urls';
import autocannon from 'autocannon';
import { benchDatabase, benchPostgres, fmt, freePort, percentile, table } from '../lib.ts';
import { generatedPhotos } from '../photos.ts';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = 10;
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

async function hammer(port: number, paths: string[]) {
  let i = 0;
  const r = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: DURATION,
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: paths[i++ % paths.length] }) }],
  });
  return { rps: r.requests.average, p99: r.latency.p99, errors: r.non2xx + r.errors };
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
  const apiEnv = {
    DATABASE_URL: url,
    SECRET_KEY: SECRET,
    URL_SIGNING_KEY: SECRET,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    PORT: String(await freePort()),
  };
  console.log(
    `# bench/thumbs: ${photos.length} JPEGs of 12–24 MP → 200×200 cover JPEG, ${CONNECTIONS} connections, ${DURATION} s per phase; node ${process.version}`,
  );

  const rows: Record<string, string | number>[] = [];
  const add = (name: string, r: { rps: number; p99: number; errors: number }, rss: number) =>
    rows.push({
      contender: name,
      'req/s': fmt(r.rps, 1),
      'p99 ms': r.p99,
      'peak RSS MB': fmt(rss),
      errors: r.errors,
    });

  // (a) our route, cold
  let api = await forked([], apiEnv, path.join(root, 'apps/api/src/main.ts'));
  const cold = await hammer(api.port, interleaved);
  add('(a) imgkit signed URL, cold', cold, await stopChild(api.child));

  // (b) sharp directly
  const sharpChild = fork(servers, ['sharp', photoDir, String(DURATION), String(CONNECTIONS)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [sharpResult] = (await once(sharpChild, 'message')) as [{ count: number; latencies: number[] }];
  const sharpRss = await stopChild(sharpChild);
  const direct = {
    rps: sharpResult.count / DURATION,
    p99: Math.round(percentile(sharpResult.latencies, 99)),
    errors: 0,
  };
  add('(b) sharp called directly', direct, sharpRss);

  // (c) ipx
  const ipx = await forked(['ipx', photoDir]);
  const ipxPaths = photos.flatMap((p) =>
    Array.from({ length: 50 }, (_, q) => `/s_200x200,fit_cover,q_${50 + q},f_jpeg/${p.name}`),
  );
  const ipxResult = await hammer(ipx.port, ipxPaths);
  add('(c) ipx', ipxResult, await stopChild(ipx.child));

  // (d) our route warm vs express.static on the same bytes
  api = await forked([], apiEnv, path.join(root, 'apps/api/src/main.ts'));
  const staticDir = path.join(dataDir, 'static');
  await mkdir(staticDir, { recursive: true });
  for (const [i, p] of warmPaths.entries()) {
    const res = await fetch(`http://127.0.0.1:${api.port}${p}`);
    await writeFile(path.join(staticDir, `${i}.jpg`), Buffer.from(await res.arrayBuffer()));
  }
  const warm = await hammer(api.port, warmPaths);
  add('(d) imgkit signed URL, warm (cache hits)', warm, await stopChild(api.child));
  const stat = await forked(['static', staticDir]);
  const statResult = await hammer(
    stat.port,
    warmPaths.map((_, i) => `/${i}.jpg`),
  );
  add('    express.static, same bytes', statResult, await stopChild(stat.child));

  console.log(table(rows));
  const rssOf = (k: number) => Number(rows[k]['peak RSS MB']);
  console.log(
    `\na/b ${fmt(cold.rps / direct.rps, 2)}   a/c ${fmt(cold.rps / ipxResult.rps, 2)} (RSS ${fmt((100 * rssOf(0)) / rssOf(2))} % of ipx)   d/static ${fmt(warm.rps / statResult.rps, 2)}`,
  );
  await pool.end();
  await stop();
}

await main();
