/**
 * bench/api: POST /v1/images (URL form) on the real api process — auth, rate limit,
 * validation, one statement writing the image and its task, NOTIFY — against the durable floor
 * (an Express handler that writes one same-shaped row into the same table on the same
 * PostgreSQL) and a bare Express handler answering a JSON body of the same size (no I/O), all
 * driven by autocannon at 10 and 50 connections: BENCH_REPEATS rounds (default 3) of
 * BENCH_DURATION seconds each (default 10), in rotating order, medians reported, with the CPU
 * time per request of the machine, the server process and PostgreSQL.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAccount, createApiKey } from '@imgkit/auth';
import { createPool } from '@imgkit/db';
import autocannon from 'autocannon';
import { benchDatabase, benchPostgres, fmt, freePort, postgresCpuMs, processCpuMs, table } from '../lib.ts';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const SECRET = 'bench-secret-key-that-is-long-enough-0123456789';
const root = fileURLToPath(new URL('../../', import.meta.url));
const body = JSON.stringify({ url: 'https://example.com/photos/cat.jpg', passthrough: { post: 42 } });

async function startApi(url: string): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  const child = fork(path.join(root, 'apps/api/src/main.ts'), {
    env: {
      ...process.env,
      DATABASE_URL: url,
      PORT: String(port),
      SECRET_KEY: SECRET,
      URL_SIGNING_KEY: SECRET,
      DATA_DIR: await mkdtemp(path.join(tmpdir(), 'imgkit-bench-api-')),
      LOG_LEVEL: 'error', // autocannon cuts the requests in flight at the end of a phase: warnings we need not see
      DATABASE_POOL_MAX: process.env.BENCH_POOL_MAX ?? '10',
      RATE_LIMIT_PER_MINUTE: process.env.BENCH_RATE_LIMIT ?? '1000000000',
      NODE_ENV: 'production',
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [],
  });
  const [msg] = (await once(child, 'message')) as [{ port: number }];
  return { child, port: msg.port };
}

async function startBare(bytes: number): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(path.join(root, 'bench/api/bare-server.ts'), {
    env: { ...process.env, BARE_BODY_BYTES: String(bytes) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [msg] = (await once(child, 'message')) as [{ port: number }];
  return { child, port: msg.port };
}

async function startDurable(url: string, accountId: string): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(path.join(root, 'bench/api/durable-server.ts'), {
    env: {
      ...process.env,
      DATABASE_URL: url,
      ACCOUNT_ID: accountId,
      DATABASE_POOL_MAX: process.env.BENCH_POOL_MAX ?? '10',
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [msg] = (await once(child, 'message')) as [{ port: number }];
  return { child, port: msg.port };
}

/** Busy CPU time of the whole machine (every process: load generator, server, PostgreSQL), in µs. */
function machineBusyMicros(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = fields;
  return ((user + nice + system + irq + softirq + (steal ?? 0)) * 1e6) / 100;
}

async function load(
  server: ChildProcess,
  port: number,
  connections: number,
  headers: Record<string, string>,
) {
  const busyBefore = machineBusyMicros();
  const serverBefore = 1000 * processCpuMs(server.pid!);
  const pgBefore = 1000 * postgresCpuMs();
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/v1/images`,
    method: 'POST',
    connections,
    duration: DURATION,
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  const n = Math.max(1, result.requests.total);
  const cpu = {
    machine: (machineBusyMicros() - busyBefore) / n,
    server: (1000 * processCpuMs(server.pid!) - serverBefore) / n,
    postgres: (1000 * postgresCpuMs() - pgBefore) / n,
  };
  const non2xx = result.non2xx + result.errors;
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, non2xx, cpu };
}

async function main() {
  const { adminUrl, stop } = await benchPostgres();
  const url = await benchDatabase(adminUrl);
  const pool = createPool({ connectionString: url, max: 2 });
  if (process.env.BENCH_ASYNC_COMMIT === '1')
    await pool.query(`ALTER DATABASE ${new URL(url).pathname.slice(1)} SET synchronous_commit = off`);
  const account = await createAccount(pool, 'bench');
  const { key } = await createApiKey(pool, SECRET, account.id);
  const api = await startApi(url);
  const sample = await fetch(`http://127.0.0.1:${api.port}/v1/images`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body,
  });
  const bytes = (await sample.text()).length;
  const bare = await startBare(bytes);
  const durable = await startDurable(url, account.id);
  console.log(
    `# bench/api: POST /v1/images (URL form), ${REPEATS} rounds of ${DURATION} s per server, medians; response ${bytes} bytes; node ${process.version}`,
  );
  const rows = [];
  type Run = Awaited<ReturnType<typeof load>>;
  const median = (runs: Run[], pick: (r: Run) => number) => {
    const v = runs.map(pick).sort((a, b) => a - b);
    return v[Math.floor(v.length / 2)];
  };
  const summary = (runs: Run[]) => ({
    rps: median(runs, (r) => r.rps),
    p50: median(runs, (r) => r.p50),
    p99: median(runs, (r) => r.p99),
    non2xx: runs.reduce((n, r) => n + r.non2xx, 0),
    cpu: {
      machine: median(runs, (r) => r.cpu.machine),
      server: median(runs, (r) => r.cpu.server),
      postgres: median(runs, (r) => r.cpu.postgres),
    },
  });
  for (const connections of [10, 50]) {
    // Rounds of the three servers, the order rotated each round, medians reported: a shared VM
    // drifts by ±15 % over a minute, which one run of each would turn into the ratio.
    const servers = [
      { name: 'ours', run: () => load(api.child, api.port, connections, { authorization: `Bearer ${key}` }) },
      { name: 'floor', run: () => load(durable.child, durable.port, connections, {}) },
      { name: 'bare', run: () => load(bare.child, bare.port, connections, {}) },
    ];
    const runs: Record<string, Run[]> = { ours: [], floor: [], bare: [] };
    for (let round = 0; round < REPEATS; round++) {
      for (let i = 0; i < servers.length; i++) {
        const s = servers[(i + round) % servers.length];
        runs[s.name].push(await s.run());
      }
    }
    const ours = summary(runs.ours);
    const floor = summary(runs.floor);
    const base = summary(runs.bare);
    const row = (server: string, r: typeof ours, ratios: Record<string, string>) => ({
      server,
      connections,
      'req/s': fmt(r.rps),
      'p50 ms': r.p50,
      'p99 ms': r.p99,
      errors: r.non2xx,
      'CPU µs/req: all': fmt(r.cpu.machine),
      'server CPU': fmt(r.cpu.server),
      'pg CPU': fmt(r.cpu.postgres),
      'ours/durable': '',
      'ours/bare': '',
      ...ratios,
    });
    rows.push(
      row('imgkit api', ours, {
        'ours/durable': fmt(ours.rps / floor.rps, 2),
        'ours/bare': fmt(ours.rps / base.rps, 2),
      }),
      row('durable floor (1 INSERT)', floor, {}),
      row('bare express (no I/O)', base, {}),
    );
    const perRound = runs.ours.map((r, i) => fmt(r.rps / runs.floor[i].rps, 2)).join(' ');
    console.log(`# ${connections} connections: ours/durable per round: ${perRound}`);
  }
  console.log(table(rows));
  const created = await pool.query(
    `SELECT count(*) FILTER (WHERE t.id IS NOT NULL)::int AS ours, count(*) FILTER (WHERE t.id IS NULL)::int AS floor
       FROM images i LEFT JOIN tasks t ON t.subject_id = i.id`,
  );
  console.log(
    `\nrows written: imgkit ${created.rows[0].ours} images, each with its task; durable floor ${created.rows[0].floor} rows`,
  );
  // Stopped (and waited for) before PostgreSQL, so no process sees the server go away.
  await Promise.all(
    [api.child, bare.child, durable.child].map((c) => {
      const exited = once(c, 'exit');
      c.kill('SIGTERM');
      return exited;
    }),
  );
  await pool.end();
  await stop();
}

await main();
