import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { embeddedUrl, freePort, startEmbeddedPostgres } from '@imgkit/db';

export { freePort };

import { migrateDatabase } from '@imgkit/runtime';
import pg from 'pg';

/** A PostgreSQL for a benchmark: BENCH_DATABASE_URL (a superuser URL) or a fresh embedded one. */
export async function benchPostgres(): Promise<{ adminUrl: string; stop: () => Promise<void> }> {
  if (process.env.BENCH_DATABASE_URL)
    return { adminUrl: process.env.BENCH_DATABASE_URL, stop: async () => {} };
  const dir = await mkdtemp(path.join(tmpdir(), 'imgkit-bench-pg-'));
  const port = await freePort();
  const server = await startEmbeddedPostgres({ dataDir: dir, port, ephemeral: true });
  return { adminUrl: embeddedUrl(port), stop: () => server.stop() };
}

/** A new, migrated database on that server. */
export async function benchDatabase(adminUrl: string, migrated = true): Promise<string> {
  const name = `imgkit_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  if (migrated) await migrateDatabase(url.toString());
  return url.toString();
}

/**
 * CPU time (user + system) of one process and all its threads, in ms; with `reaped`, also that
 * of its children that exited and were waited for. 0 once it is gone.
 */
export function processCpuMs(pid: number | string, reaped = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After the command name (which may itself hold ") "): state is the first field, so
    // utime, stime, cutime and cstime (fields 14–17 of proc(5)) are the 12th to 15th.
    const f = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    const ticks = f[11] + f[12] + (reaped ? f[13] + f[14] : 0);
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return 0;
  }
}

/**
 * CPU time (ms) of PostgreSQL on this machine: every live `postgres` process, plus the backends
 * that already exited (the postmaster reaps them, so their time is in its children's time) — a
 * contender's backends end with its connections, before the measurement after it.
 */
export function postgresCpuMs(): number {
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres') total += processCpuMs(pid, true);
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

export function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export function median(values: number[]): number {
  return percentile(values, 50);
}

export function table(rows: Record<string, string | number>[]): string {
  const cols = Object.keys(rows[0]);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(width[i])).join('  ');
  return [
    line(cols),
    line(width.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(cols.map((c) => String(r[c])))),
  ].join('\n');
}

export const fmt = (n: number, digits = 0) => n.toFixed(digits);
