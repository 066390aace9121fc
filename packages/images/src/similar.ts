import { type Queryable, query, sql } from '@imgkit/db';
import type { Duplicates, ImageRow } from './resource.ts';
import { COLUMNS } from './store.ts';

/**
 * Near-duplicate search by multi-index hashing (Norouzi et al., "Fast Search in Hamming Space
 * with Multi-Index Hashing"), in plain PostgreSQL. A 64-bit hash is four 16-bit bands, each
 * with an index (migrations/007). If two hashes differ in at most r bits, the r bits fall into
 * four bands, so at least one band differs in at most ⌊r/4⌋ bits (pigeonhole; probeValues
 * tightens it). A query enumerates those 16-bit values of each band, collects the rows that
 * have one of them (index-only scans), and rechecks the exact distance: the result is exactly
 * the scan's. Flat images (`hash_degenerate`) are in neither.
 *
 * Past MAX_INDEXED_DISTANCE the candidates would be a large part of the account, and the plain
 * scan (also exact) is used instead.
 */
export const MAX_INDEXED_DISTANCE = 15;
const BAND_BITS = 16;
const BANDS = 4;

export type HashKind = 'phash' | 'dhash' | 'both';

function popcount(h: bigint): number {
  let x = BigInt.asUintN(64, h);
  let n = 0;
  for (; x; x &= x - 1n) n++;
  return n;
}

/** The rule of the generated column images.hash_degenerate (migrations/007), for a query hash. */
export function isDegenerateHash(phash: bigint, dhash: bigint | null): boolean {
  if (popcount(phash) < 16 || dhash === null) return true;
  const d = popcount(dhash);
  return d <= 2 || d >= 62;
}

/** The four 16-bit bands of a 64-bit hash, most significant first, as the indexes compute them. */
export function bandsOf(hash: bigint): number[] {
  const u = BigInt.asUintN(64, hash);
  return Array.from({ length: BANDS }, (_, i) =>
    Number((u >> BigInt((BANDS - 1 - i) * BAND_BITS)) & 0xffffn),
  );
}

/** Every 16-bit value within `k` bits of `value` (itself included): Σ C(16, i) for i ≤ k. */
export function bandNeighbours(value: number, k: number, exactly = false): number[] {
  const out: number[] = [];
  const flip = (v: number, from: number, flipped: number) => {
    if (!exactly || flipped === k) out.push(v);
    if (flipped === k) return;
    for (let bit = from; bit < BAND_BITS; bit++) flip(v ^ (1 << bit), bit + 1, flipped + 1);
  };
  if (k >= 0) flip(value, 0, 0);
  return out;
}

/**
 * The band values to look up for radius r, band by band. With k = ⌊r/4⌋ and s = r − 4k: a hash
 * within r either has a band within k − 1 bits of the query's, or all its bands differ by at
 * least k and at most s of them by more than k — so among any s + 1 bands one differs by
 * exactly k. Every band is looked up within k − 1 bits, and the first s + 1 bands also at
 * exactly k bits: at r = 8 that is 4·17 + 120 = 188 values instead of the plain pigeonhole's
 * 4·137 = 548, with the same guarantee.
 */
export function probeValues(hash: bigint, r: number): number[][] {
  const k = Math.floor(r / BANDS);
  const s = r - BANDS * k;
  return bandsOf(hash).map((v, band) => [
    ...bandNeighbours(v, k - 1),
    ...(band <= s ? bandNeighbours(v, k, true) : []),
  ]);
}

export interface SimilarQuery {
  accountId: string;
  /** Signed 64-bit decimal strings, as the table stores them. */
  phash: string;
  dhash: string | null;
  hash: HashKind;
  maxDistance: number;
  limit: number;
  /** The query image itself, left out of its own results. */
  excludeId?: string;
}

export type SimilarRow = ImageRow & { phash_distance: number; dhash_distance: number | null };

// The distances and the order are the same in both plans; only how candidates are found differs.
const distances = `bit_count((c.phash # $2::bigint)::bit(64))::int AS phash_distance,
  CASE WHEN c.dhash IS NULL OR $3::bigint IS NULL THEN NULL
       ELSE bit_count((c.dhash # $3::bigint)::bit(64))::int END AS dhash_distance`;
const keep = {
  phash: 'phash_distance <= $4',
  dhash: 'dhash_distance <= $4',
  both: 'phash_distance <= $4 AND dhash_distance <= $4',
};
const order = {
  phash: 'phash_distance, id',
  dhash: 'dhash_distance, id',
  both: 'greatest(phash_distance, dhash_distance), phash_distance + dhash_distance, id',
};

// Joining the band values as rows (not `= ANY(array)`) keeps planning cheap: the planner does
// not estimate each of up to 697 values, and the plan stays one index lookup per value.
function bandLookup(column: 'phash' | 'dhash', band: number, param: number): string {
  const shift = (BANDS - 1 - band) * BAND_BITS;
  const expr = shift ? `((i.${column} >> ${shift}) & 65535)` : `(i.${column} & 65535)`;
  return `SELECT i.id, i.phash, i.dhash FROM unnest($${param}::bigint[]) AS v(band)
    JOIN images i ON i.account_id = $1 AND i.${column} IS NOT NULL AND NOT i.hash_degenerate AND ${expr} = v.band`;
}

function indexedSql(kind: HashKind) {
  const column = kind === 'dhash' ? 'dhash' : 'phash';
  return sql(
    `images.similar_index_${kind}`,
    `WITH c AS (
       ${[0, 1, 2, 3].map((b) => bandLookup(column, b, 7 + b)).join('\n       UNION\n       ')}
     ), near AS (
       SELECT c.id, ${distances} FROM c WHERE ($5::text IS NULL OR c.id <> $5)
     )
     SELECT ${COLUMNS.replace(/(^|,\s*)id\b/, '$1images.id')}, near.phash_distance, near.dhash_distance
     FROM near JOIN images ON images.id = near.id
     WHERE ${keep[kind]}
     ORDER BY ${order[kind].replace(/\bid$/, 'images.id')}
     LIMIT $6`,
  );
}

function scanSql(kind: HashKind) {
  const column = kind === 'dhash' ? 'dhash' : 'phash';
  return sql(
    `images.similar_scan_${kind}`,
    `SELECT * FROM (
       SELECT ${COLUMNS}, ${distances}
       FROM images c
       WHERE account_id = $1 AND ${column} IS NOT NULL AND NOT hash_degenerate AND ($5::text IS NULL OR id <> $5)
     ) s
     WHERE ${keep[kind]}
     ORDER BY ${order[kind]}
     LIMIT $6`,
  );
}

const INDEXED = { phash: indexedSql('phash'), dhash: indexedSql('dhash'), both: indexedSql('both') };
const SCAN = { phash: scanSql('phash'), dhash: scanSql('dhash'), both: scanSql('both') };

/** The account's images within `maxDistance` of the query hash(es), nearest first. */
export function similarImages(db: Queryable, q: SimilarQuery): Promise<SimilarRow[]> {
  if (q.hash !== 'phash' && q.dhash === null) return Promise.resolve([]);
  if (q.maxDistance > MAX_INDEXED_DISTANCE) return similarImagesByScan(db, q);
  const probe = BigInt(q.hash === 'dhash' ? q.dhash! : q.phash);
  return query<SimilarRow>(db, INDEXED[q.hash], [...common(q), ...probeValues(probe, q.maxDistance)]);
}

/** The same result by reading every row of the account: the reference the index is tested against. */
export function similarImagesByScan(db: Queryable, q: SimilarQuery): Promise<SimilarRow[]> {
  if (q.hash !== 'phash' && q.dhash === null) return Promise.resolve([]);
  return query<SimilarRow>(db, SCAN[q.hash], common(q));
}

function common(q: SimilarQuery): unknown[] {
  return [q.accountId, q.phash, q.dhash, q.maxDistance, q.excludeId ?? null, q.limit];
}

/** The distance within which a completed image reports its closest near-duplicate. */
export const NEAR_DUPLICATE_DISTANCE = 10;

const exactSql = sql(
  'images.exact_duplicates',
  `SELECT id FROM images
   WHERE account_id = $1 AND checksum = $2 AND id <> $3 AND status = 'completed'
   ORDER BY id LIMIT 10`,
);

/** The account's exact copies (same SHA-256) and closest near-duplicate of a just-completed image. */
export async function findDuplicates(
  db: Queryable,
  image: Pick<ImageRow, 'id' | 'account_id' | 'checksum' | 'phash' | 'dhash' | 'hash_degenerate'>,
): Promise<Duplicates> {
  const exact = image.checksum
    ? (await query<{ id: string }>(db, exactSql, [image.account_id, image.checksum, image.id])).map(
        (r) => r.id,
      )
    : [];
  let nearest: Duplicates['nearest'] = null;
  if (image.phash !== null && image.dhash !== null && !image.hash_degenerate) {
    const [closest] = await similarImages(db, {
      accountId: image.account_id,
      phash: image.phash,
      dhash: image.dhash,
      hash: 'both',
      maxDistance: NEAR_DUPLICATE_DISTANCE,
      limit: 1,
      excludeId: image.id,
    });
    if (closest) {
      nearest = {
        id: closest.id,
        phash_distance: closest.phash_distance,
        dhash_distance: closest.dhash_distance ?? 0,
      };
    }
  }
  return { exact, nearest };
}
