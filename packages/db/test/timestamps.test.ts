import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPool } from '@imgkit/db';
import pg from 'pg';
import { parseTimestamptz } from '../src/timestamps.ts';

const slowParse = pg.types.getTypeParser(1184) as (s: string) => Date | number | null;
const value = (v: Date | number | null) => (v instanceof Date ? v.getTime() : v);

test('the fast timestamptz parser reads what PostgreSQL prints exactly as node-postgres does, in every zone', async () => {
  const client = new pg.Client({ connectionString: process.env.IMGKIT_TEST_ADMIN_URL });
  await client.connect();
  try {
    // Whole-hour, half-hour, 45-minute and historical second-level (LMT) offsets, both signs.
    const zones = [
      'UTC',
      'Asia/Kolkata',
      'America/St_Johns',
      'Asia/Kathmandu',
      'Europe/Amsterdam',
      'America/Los_Angeles',
      'Pacific/Chatham',
    ];
    const samples: string[] = [];
    for (const zone of zones) {
      await client.query(`SET TIME ZONE '${zone}'`);
      const { rows } = await client.query<{ t: string }>(
        `SELECT t::text FROM (
           SELECT now() + make_interval(secs => g * 7919.123457) AS t FROM generate_series(-300, 300) g
           UNION ALL SELECT date_trunc('second', now()) + make_interval(secs => g / 10.0) FROM generate_series(0, 9) g
           UNION ALL SELECT x::timestamptz FROM unnest(ARRAY['1900-01-01 00:00:00+00', '1000-01-01 12:00:00.5+00',
             '0999-12-31 23:59:59.999999+00', '0099-06-01 00:00:00+00', '0044-03-15 12:00:00+00 BC',
             '9999-12-31 23:59:59.999999+00', '12345-01-01 00:00:00+00', 'infinity', '-infinity',
             '2024-02-29 23:59:59.999+00', '1970-01-01 00:00:00+00']) x
         ) s`,
      );
      samples.push(...rows.map((r) => r.t));
    }
    assert.ok(samples.some((s) => /\+05:30$/.test(s)) && samples.some((s) => /-0[23]:30$/.test(s)));
    assert.ok(
      samples.some((s) => /[+-]\d\d:\d\d:\d\d$/.test(s)),
      'a seconds-level offset was printed',
    );
    for (const s of samples) assert.equal(value(parseTimestamptz(s)), value(slowParse(s)), s);
  } finally {
    await client.end();
  }
});

test('pools read timestamptz columns with it', async () => {
  const pool = createPool({ connectionString: process.env.IMGKIT_TEST_ADMIN_URL!, max: 1 });
  try {
    const { rows } = await pool.query(
      "SELECT '2026-12-01 10:22:33.123456+05:30'::timestamptz AS t, 'infinity'::timestamptz AS i",
    );
    assert.ok(rows[0].t instanceof Date);
    assert.equal(rows[0].t.toISOString(), '2026-12-01T04:52:33.123Z');
    assert.equal(rows[0].i, Number.POSITIVE_INFINITY);
  } finally {
    await pool.end();
  }
});
