import { spawnSync } from 'node:child_process';
import { createPool } from '@imgkit/db';
import { newId } from '@imgkit/ids';
import { benchDatabase } from '../lib.ts';
const N = 20000;
const admin = process.env.ADMIN ?? 'postgres://postgres@127.0.0.1:5432/postgres';
for (const analyse of [true, false, true, false]) {
  const url = await benchDatabase(admin);
  const pool = createPool({ connectionString: url, max: 2 });
  await pool.query("INSERT INTO tasks (id, kind) SELECT unnest($1::text[]), 'noop'", [Array.from({ length: N }, () => newId('task'))]);
  if (analyse) await pool.query('ANALYZE tasks');
  await pool.end();
  const out = spawnSync(process.execPath, ['--import', './bench/queue/xt.ts', 'bench/queue/contender.ts', 'imgkit', 'drain', url, String(N)], { encoding: 'utf8' });
  const res = JSON.parse(out.stdout.trim().split('\n').pop()!);
  console.log(`analyse=${analyse} jobs/s ${(N / res.seconds).toFixed(0)}`);
  process.stdout.write(out.stderr);
}
