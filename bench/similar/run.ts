/**
 * bench/similar: near-duplicate search at 1 M and 5 M images in one account — the multi-index
 * hashing index (packages/images/src/similar.ts) against the scan it replaces, on the same
 * database in the same run, with the result sets compared for equality.
 *
 * Per size: random 64-bit pHash/dHash rows plus 1,000 planted bases with near-duplicates at
 * every distance 1–12; the band indexes built after the load, then VACUUM ANALYZE (as any
 * table that has run a while). For r = 4, 8, 10, 12: p50/p95 of 100 queries through the index
 * (half planted bases, half random hashes) and of 20 through the scan (the first 20 of the
 * same), equality of those 20 result lists, and that every planted duplicate within r is found.
 * Then the band indexes' size and the insert cost per row with and without them.
 * BENCH_SIMILAR_SIZES (1000000,5000000), BENCH_DATABASE_URL (else embedded).
 */
import { createAccount } from '@imgkit/auth';
import { createPool, type Pool } from '@imgkit/db';
import { type SimilarQuery, similarImages, similarImagesByScan } from '@imgkit/images';
import { benchDatabase, benchPostgres, fmt, percentile, table } from '../lib.ts';

const SIZES = (process.env.BENCH_SIMILAR_SIZES ?? '1000000,5000000').split(',').map(Number);
const RADII = [4, 8, 10, 12];
const INDEX_QUERIES = 100;
const SCAN_QUERIES = 20;
const BASES = 1000;

let seed = 7;
const random = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const random64 = () =>
  (BigInt(Math.floor(random() * 2 ** 32)) << 32n) | BigInt(Math.floor(random() * 2 ** 32));
const flip = (hash: bigint, k: number) => {
  const bits = new Set<number>();
  while (bits.size < k) bits.add(Math.floor(random() * 64));
  let h = hash;
  for (const b of bits) h ^= 1n << BigInt(b);
  return h;
};
const signed = (h: bigint) => BigInt.asIntN(64, h).toString();

const BAND_INDEXES = ['phash', 'dhash'].flatMap((c) => [0, 1, 2, 3].map((b) => `images_${c}_b${b}`));

async function bandIndexDefinitions(pool: Pool): Promise<string[]> {
  const r = await pool.query('SELECT indexdef FROM pg_indexes WHERE indexname = ANY($1) ORDER BY indexname', [
    BAND_INDEXES,
  ]);
  return r.rows.map((x) => x.indexdef);
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const out = await fn();
  return [out, performance.now() - t0];
}

async function run(adminUrl: string, size: number) {
  const url = await benchDatabase(adminUrl);
  const pool = createPool({ connectionString: url, max: 4 });
  const account = await createAccount(pool, 'bench', 'whsec_bench');
  const definitions = await bandIndexDefinitions(pool);
  // Loading with the indexes in place would measure index maintenance of 5 M inserts; a real
  // table grows over months. Build them after the load (sorted builds), as a migration would.
  for (const name of BAND_INDEXES) await pool.query(`DROP INDEX ${name}`);
  const t0 = performance.now();
  await pool.query(
    `INSERT INTO images (id, account_id, status, source, phash, dhash)
     SELECT 'img_' || lpad(g::text, 27, '0'), $1, 'completed', 'upload',
            (((random() * 4294967295)::bigint << 32) | (random() * 4294967295)::bigint),
            (((random() * 4294967295)::bigint << 32) | (random() * 4294967295)::bigint)
     FROM generate_series(1, $2) g`,
    [account.id, size - BASES * 13],
  );
  const bases = Array.from({ length: BASES }, () => ({ phash: random64(), dhash: random64() }));
  const planted: { id: string; phash: bigint; dhash: bigint; base: number; d: number }[] = [];
  bases.forEach((b, i) => {
    planted.push({ id: `img_P${String(i * 100).padStart(26, '0')}`, ...b, base: i, d: 0 });
    for (let d = 1; d <= 12; d++) {
      planted.push({
        id: `img_P${String(i * 100 + d).padStart(26, '0')}`,
        phash: flip(b.phash, d),
        dhash: flip(b.dhash, d),
        base: i,
        d,
      });
    }
  });
  for (let i = 0; i < planted.length; i += 2000) {
    const chunk = planted.slice(i, i + 2000);
    await pool.query(
      `INSERT INTO images (id, account_id, status, source, phash, dhash)
       SELECT unnest($1::text[]), $2, 'completed', 'upload', unnest($3::bigint[]), unnest($4::bigint[])`,
      [
        chunk.map((p) => p.id),
        account.id,
        chunk.map((p) => signed(p.phash)),
        chunk.map((p) => signed(p.dhash)),
      ],
    );
  }
  const loadSeconds = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  for (const def of definitions) await pool.query(def);
  const indexSeconds = (performance.now() - t1) / 1000;
  await pool.query('VACUUM ANALYZE images');
  const sizes = await pool.query(
    `SELECT (SELECT sum(pg_relation_size(indexrelid)) FROM pg_index WHERE indexrelid::regclass::text = ANY($1))::bigint AS bands,
            pg_relation_size('images') AS heap`,
    [BAND_INDEXES],
  );

  const queries = Array.from({ length: INDEX_QUERIES }, (_, i) =>
    i % 2 === 0 ? { ...bases[i], planted: i } : { phash: random64(), dhash: random64(), planted: -1 },
  );
  const rows: Record<string, string | number>[] = [];
  for (const r of RADII) {
    const q = (h: (typeof queries)[number]): SimilarQuery => ({
      accountId: account.id,
      phash: signed(h.phash),
      dhash: signed(h.dhash),
      hash: 'phash',
      maxDistance: r,
      limit: 1000,
    });
    const indexMs: number[] = [];
    const indexResults: string[][] = [];
    let plantedMissed = 0;
    for (const h of queries) {
      const [res, ms] = await timed(() => similarImages(pool, q(h)));
      indexMs.push(ms);
      indexResults.push(res.map((x) => x.id));
      if (h.planted >= 0) {
        const want = planted.filter((p) => p.base === h.planted && p.d <= r).map((p) => p.id);
        plantedMissed += want.filter((id) => !res.some((x) => x.id === id)).length;
      }
    }
    const scanMs: number[] = [];
    let equal = 0;
    for (let i = 0; i < SCAN_QUERIES; i++) {
      const [res, ms] = await timed(() => similarImagesByScan(pool, q(queries[i])));
      scanMs.push(ms);
      if (JSON.stringify(res.map((x) => x.id)) === JSON.stringify(indexResults[i])) equal++;
    }
    rows.push({
      r,
      'index p50 ms': fmt(percentile(indexMs, 50), 2),
      'index p95 ms': fmt(percentile(indexMs, 95), 2),
      'scan p50 ms': fmt(percentile(scanMs, 50), 1),
      'scan p95 ms': fmt(percentile(scanMs, 95), 1),
      'scan/index (p50)': fmt(percentile(scanMs, 50) / percentile(indexMs, 50), 0),
      'same results': `${equal}/${SCAN_QUERIES}`,
      'planted missed': plantedMissed,
      'matches/query': fmt(indexResults.reduce((n, x) => n + x.length, 0) / indexResults.length, 1),
    });
  }

  // Insert cost: 10,000 more rows, 1,000 per statement, with the band indexes and without.
  const insertBatch = async (tag: string) => {
    const [, ms] = await timed(async () => {
      for (let b = 0; b < 10; b++) {
        await pool.query(
          `INSERT INTO images (id, account_id, status, source, phash, dhash)
           SELECT 'img_' || $3 || lpad(g::text, 26, '0'), $1, 'completed', 'upload',
                  (((random() * 4294967295)::bigint << 32) | (random() * 4294967295)::bigint),
                  (((random() * 4294967295)::bigint << 32) | (random() * 4294967295)::bigint)
           FROM generate_series($2 * 1000 + 1, $2 * 1000 + 1000) g`,
          [account.id, b, tag],
        );
      }
    });
    return (ms * 1000) / 10_000;
  };
  const withBands = await insertBatch('x');
  for (const name of BAND_INDEXES) await pool.query(`DROP INDEX ${name}`);
  const withoutBands = await insertBatch('y');
  await pool.end();
  return {
    rows,
    loadSeconds,
    indexSeconds,
    bandBytes: Number(sizes.rows[0].bands),
    heapBytes: Number(sizes.rows[0].heap),
    withBands,
    withoutBands,
  };
}

const { adminUrl, stop } = await benchPostgres();
console.log(`# bench/similar: pHash near-duplicates in one account, node ${process.version}`);
for (const size of SIZES) {
  const r = await run(adminUrl, size);
  console.log(
    `\n## ${size.toLocaleString('en')} images (loaded in ${fmt(r.loadSeconds)} s; band indexes built in ${fmt(r.indexSeconds)} s)\n`,
  );
  console.log(table(r.rows));
  console.log(
    `\nband indexes: ${fmt(r.bandBytes / 2 ** 20)} MiB (${fmt(r.bandBytes / size, 0)} B/row; heap ${fmt(r.heapBytes / 2 ** 20)} MiB); ` +
      `insert cost ${fmt(r.withBands, 0)} µs/row with the 8 band indexes vs ${fmt(r.withoutBands, 0)} µs/row without`,
  );
}
await stop();
