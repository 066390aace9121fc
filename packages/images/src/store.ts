import { type Queryable, query, queryOne, sql } from '@imgkit/db';
import { transitions } from '@imgkit/lifecycle';
import { cancelTasksForSubject } from '@imgkit/queue';
import { RENDITIONS_CHANNEL } from './renditions.ts';
import type { ImageRow } from './resource.ts';

/** Every column, in the order ImageRow lists them. */
export const COLUMNS = `id, account_id, status, source, url, final_url, filename, content_type, byte_size, checksum,
  storage_key, width, height, orientation, format, exif, xmp, iptc, gps, phash, dhash, palette, placeholder,
  variants, requested_variants, extract_metadata, webhook_url, passthrough, error_code, error_message, attempts,
  created_at, updated_at, completed_at, hash_degenerate, duplicates, taken_at, rendition_version`;

const getSql = sql('images.get', `SELECT ${COLUMNS} FROM images WHERE id = $1 AND account_id = $2`);
/** The shared work-item transitions (pending → processing → completed | failed) on this table. */
export const IMAGE_TRANSITIONS = transitions('images', COLUMNS);

/** An account's image (undefined when it does not exist or belongs to another account). */
export function getImage(db: Queryable, id: string, accountId: string): Promise<ImageRow | undefined> {
  return queryOne<ImageRow>(db, getSql, [id, accountId]);
}

/** Any account's image: for the worker and for signed URLs, which carry no account. */
export function getImageById(db: Queryable, id: string): Promise<ImageRow | undefined> {
  return queryOne<ImageRow>(db, IMAGE_TRANSITIONS.get, [id]);
}

// Newest first. $2 is the cursor (an id), $3/$4 optional filters, $5 = limit + 1 to learn has_more.
const listOlderSql = sql(
  'images.list_older',
  `SELECT ${COLUMNS} FROM images
   WHERE account_id = $1 AND ($2::text IS NULL OR id < $2)
     AND ($3::text IS NULL OR status = $3) AND ($4::text IS NULL OR checksum = $4)
   ORDER BY id DESC LIMIT $5`,
);
const listNewerSql = sql(
  'images.list_newer',
  `SELECT ${COLUMNS} FROM images
   WHERE account_id = $1 AND id > $2
     AND ($3::text IS NULL OR status = $3) AND ($4::text IS NULL OR checksum = $4)
   ORDER BY id ASC LIMIT $5`,
);

export interface ListFilter {
  limit: number;
  /** Images older than this id (the next page). */
  startingAfter?: string;
  /** Images newer than this id (the previous page). */
  endingBefore?: string;
  status?: string;
  checksum?: string;
}

/** One page, newest first, and whether there is more in the direction of travel. */
export async function listImages(
  db: Queryable,
  accountId: string,
  f: ListFilter,
): Promise<{ rows: ImageRow[]; hasMore: boolean }> {
  if (f.endingBefore) {
    const rows = await query<ImageRow>(db, listNewerSql, [
      accountId,
      f.endingBefore,
      f.status,
      f.checksum,
      f.limit + 1,
    ]);
    return { rows: rows.slice(0, f.limit).reverse(), hasMore: rows.length > f.limit };
  }
  const rows = await query<ImageRow>(db, listOlderSql, [
    accountId,
    f.startingAfter,
    f.status,
    f.checksum,
    f.limit + 1,
  ]);
  return { rows: rows.slice(0, f.limit), hasMore: rows.length > f.limit };
}

// Every api process hears of the deletion (RENDITIONS_CHANNEL) and drops its cached renderings.
const deleteSql = sql(
  'images.delete',
  `WITH gone AS (DELETE FROM images WHERE id = $1 AND account_id = $2 RETURNING id, storage_key)
   SELECT id, storage_key, pg_notify('${RENDITIONS_CHANNEL}', id) FROM gone`,
);

/** Deletes the row and cancels its pending tasks; the caller removes the blobs after commit. */
export async function deleteImageRow(
  tx: Queryable,
  id: string,
  accountId: string,
): Promise<{ id: string; storage_key: string | null } | undefined> {
  const row = await queryOne<{ id: string; storage_key: string | null }>(tx, deleteSql, [id, accountId]);
  if (row) await cancelTasksForSubject(tx, id);
  return row;
}
