/**
 * The near-duplicate index is exact: for random hashes, planted near-duplicates at known
 * distances and the hashes of real corpus photos, at every radius from 0 to 15 and for pHash,
 * dHash and both, the index returns the same rows in the same order as the scan. Flat images
 * (degenerate hashes) are flagged and in neither.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { createAccount } from '@imgkit/auth';
import { newId } from '@imgkit/ids';
import {
  bandNeighbours,
  bandsOf,
  type HashKind,
  hexToHash,
  isDegenerateHash,
  probeValues,
  similarImages,
  similarImagesByScan,
} from '@imgkit/images';
import { extractImage } from '@imgkit/media';
import { CORPUS } from '../../../test/helpers/corpus.ts';
import { freshDatabase } from '../../../test/helpers/db.ts';

const db = await freshDatabase();

/** A deterministic PRNG (mulberry32), so a failure can be replayed. */
function rng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(20261130);
const random64 = () =>
  (BigInt(Math.floor(random() * 2 ** 32)) << 32n) | BigInt(Math.floor(random() * 2 ** 32));
/** `hash` with `k` distinct random bits flipped. */
function flip(hash: bigint, k: number): bigint {
  const bits = new Set<number>();
  while (bits.size < k) bits.add(Math.floor(random() * 64));
  let h = BigInt.asUintN(64, hash);
  for (const b of bits) h ^= 1n << BigInt(b);
  return h;
}
const signed = (h: bigint) => BigInt.asIntN(64, h).toString();

test('bands and band neighbours', () => {
  assert.deepEqual(
    bandNeighbours(0b101, 1, true)
      .sort((a, b) => a - b)
      .slice(0, 3),
    [0b001, 0b100, 0b111],
  );
  assert.equal(bandNeighbours(0, 2, true).length, 120);
  assert.deepEqual(bandNeighbours(7, -1), []);
  // Values looked up per radius: 4·C(≤k−1) + (s+1)·C(=k).
  assert.deepEqual(
    [0, 3, 4, 8, 10, 12].map((r) => probeValues(0n, r).reduce((n, v) => n + v.length, 0)),
    [1, 4, 20, 188, 428, 1108],
  );
  assert.deepEqual(bandsOf(0x0123456789abcdefn), [0x0123, 0x4567, 0x89ab, 0xcdef]);
  assert.deepEqual(bandsOf(-1n), [0xffff, 0xffff, 0xffff, 0xffff]);
  for (const k of [0, 1, 2, 3]) {
    const n = bandNeighbours(0xa5a5, k);
    assert.equal(new Set(n).size, n.length, 'no value twice');
    assert.equal(n.length, [1, 17, 137, 697][k]);
    for (const v of n) {
      let d = v ^ 0xa5a5;
      let bits = 0;
      for (; d; d &= d - 1) bits++;
      assert.ok(bits <= k);
    }
  }
});

test('index and scan return the same rows at every radius 0–15, for pHash, dHash and both', async () => {
  const account = await createAccount(db.pool, 'similar', 'whsec_test');
  const other = await createAccount(db.pool, 'other', 'whsec_test');
  const rows: { id: string; account: string; phash: bigint; dhash: bigint }[] = [];
  const add = (phash: bigint, dhash: bigint, accountId = account.id) =>
    rows.push({ id: newId('image'), account: accountId, phash, dhash });

  // Real photos: their hashes, and near-duplicates of them at every distance up to 14.
  const dir = path.join(CORPUS, 'camera-exif');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.jpg')).slice(0, 16);
  const limits = { maxInputPixels: 100_000_000, maxFrames: 10, decodeTimeoutMs: 30_000 };
  const real: { phash: bigint; dhash: bigint }[] = [];
  for (const f of files) {
    const x = await extractImage(await readFile(path.join(dir, f)), limits, { metadata: false });
    if (x.phash && x.dhash) real.push({ phash: BigInt(`0x${x.phash}`), dhash: BigInt(`0x${x.dhash}`) });
  }
  assert.ok(real.length >= 12, `real hashes: ${real.length}`);
  const bases = [...real, ...Array.from({ length: 20 }, () => ({ phash: random64(), dhash: random64() }))];
  for (const b of bases) {
    add(b.phash, b.dhash);
    for (let d = 0; d <= 14; d++) add(flip(b.phash, d), flip(b.dhash, Math.min(64, d + (d % 3))));
  }
  for (let i = 0; i < 2000; i++) add(random64(), random64());
  // Another account's exact copies never show.
  for (const b of bases.slice(0, 5)) add(b.phash, b.dhash, other.id);
  // Flat images: the canonical hash of a constant image, and near-flat ones.
  add(0x8000000000000000n, 0n);
  add(0x8000000000000001n, 0x0000000000000001n);
  add(0n, -1n);

  for (let i = 0; i < rows.length; i += 500) {
    const chunk = rows.slice(i, i + 500);
    await db.pool.query(
      `INSERT INTO images (id, account_id, status, source, phash, dhash)
       SELECT unnest($1::text[]), unnest($2::text[]), 'completed', 'upload', unnest($3::bigint[]), unnest($4::bigint[])`,
      [
        chunk.map((r) => r.id),
        chunk.map((r) => r.account),
        chunk.map((r) => signed(r.phash)),
        chunk.map((r) => signed(r.dhash)),
      ],
    );
  }
  await db.pool.query('ANALYZE images');
  const degenerate = await db.pool.query('SELECT count(*)::int AS n FROM images WHERE hash_degenerate');
  // The SQL rule and its JS mirror agree (the 1×1 and 8×8 camera samples are flat too).
  assert.equal(degenerate.rows[0].n, rows.filter((r) => isDegenerateHash(r.phash, r.dhash)).length);
  assert.ok(degenerate.rows[0].n >= 3, 'the flat images are flagged');

  const queries = [
    ...bases.slice(0, 10).map((b) => ({ phash: b.phash, dhash: b.dhash })),
    ...bases.slice(-5).map((b) => ({ phash: flip(b.phash, 3), dhash: flip(b.dhash, 2) })),
    ...Array.from({ length: 5 }, () => ({ phash: random64(), dhash: random64() })),
  ];
  let compared = 0;
  let matched = 0;
  for (const qh of queries) {
    for (let r = 0; r <= 15; r++) {
      for (const hash of ['phash', 'dhash', 'both'] as HashKind[]) {
        const q = {
          accountId: account.id,
          phash: signed(qh.phash),
          dhash: signed(qh.dhash),
          hash,
          maxDistance: r,
          limit: 1000,
        };
        const viaIndex = await similarImages(db.pool, q);
        const viaScan = await similarImagesByScan(db.pool, q);
        const show = (x: typeof viaIndex) =>
          x.map((row) => `${row.id}:${row.phash_distance}/${row.dhash_distance}`);
        assert.deepEqual(show(viaIndex), show(viaScan), `${hash} r=${r}`);
        for (const row of viaIndex) {
          assert.equal(row.account_id, account.id);
          assert.ok(!row.hash_degenerate);
        }
        compared++;
        matched += viaIndex.length;
      }
    }
  }
  assert.equal(compared, queries.length * 16 * 3);
  assert.ok(matched > 1000, `the comparisons found matches (${matched}), not only empty sets`);

  // The planted duplicates are found at their distance, nearest first, the query itself left out.
  const base = rows.find((r) => r.phash === bases[real.length].phash)!; // a random, non-flat one
  const near = await similarImages(db.pool, {
    accountId: account.id,
    phash: signed(base.phash),
    dhash: signed(base.dhash),
    hash: 'phash',
    maxDistance: 6,
    limit: 50,
    excludeId: base.id,
  });
  assert.ok(!near.some((r) => r.id === base.id));
  assert.deepEqual(
    near.map((r) => r.phash_distance),
    [...near.map((r) => r.phash_distance)].sort((a, b) => a - b),
  );
  for (let d = 0; d <= 6; d++)
    assert.ok(
      near.some((r) => r.phash_distance === d),
      `a duplicate at distance ${d}`,
    );

  // A degenerate query image finds nothing, and no degenerate image is ever returned.
  const flat = await similarImages(db.pool, {
    accountId: account.id,
    phash: hexToHash('8000000000000000'),
    dhash: '0',
    hash: 'phash',
    maxDistance: 12,
    limit: 50,
  });
  assert.ok(flat.every((r) => !r.hash_degenerate));
});
