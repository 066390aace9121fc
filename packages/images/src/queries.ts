import { sql } from '@imgkit/db';

const COLUMNS = `id, account_id, status, source, url, final_url, filename, content_type, byte_size, checksum,
  storage_key, width, height, orientation, format, exif, xmp, iptc, gps, phash, dhash, palette, placeholder,
  variants, requested_variants, extract_metadata, webhook_url, passthrough, error_code, error_message, attempts,
  created_at, updated_at, completed_at`;

export const Q = {
  insert: sql(
    'images.insert',
    `INSERT INTO images (id, account_id, source, url, filename, content_type, byte_size, checksum, storage_key,
                         requested_variants, extract_metadata, webhook_url, passthrough)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
     RETURNING ${COLUMNS}`,
  ),
  // The image row and its process_image task in one statement (see migrations/005).
  insertWithTask: sql(
    'images.insert_with_task',
    `WITH image AS (
       INSERT INTO images (id, account_id, source, url, filename, content_type, byte_size, checksum, storage_key,
                           requested_variants, extract_metadata, webhook_url, passthrough)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
       RETURNING ${COLUMNS}
     )
     SELECT image.*, imgkit_enqueue($14, 'process_image', jsonb_build_object('image_id', image.id), $15, image.id) AS task_id
     FROM image`,
  ),
  get: sql('images.get', `SELECT ${COLUMNS} FROM images WHERE id = $1 AND account_id = $2`),
  getById: sql('images.get_by_id', `SELECT ${COLUMNS} FROM images WHERE id = $1`),
  // Newest first. $3/$4 are the cursors (ids), $5/$6 optional filters; $7 = limit + 1 to learn has_more.
  listOlder: sql(
    'images.list_older',
    `SELECT ${COLUMNS} FROM images
     WHERE account_id = $1 AND ($2::text IS NULL OR id < $2)
       AND ($3::text IS NULL OR status = $3) AND ($4::text IS NULL OR checksum = $4)
     ORDER BY id DESC LIMIT $5`,
  ),
  listNewer: sql(
    'images.list_newer',
    `SELECT ${COLUMNS} FROM images
     WHERE account_id = $1 AND id > $2
       AND ($3::text IS NULL OR status = $3) AND ($4::text IS NULL OR checksum = $4)
     ORDER BY id ASC LIMIT $5`,
  ),
  // Near-duplicates by pHash: Hamming distance is the popcount of the XOR of the 64-bit hashes.
  similar: sql(
    'images.similar',
    `SELECT ${COLUMNS}, bit_count(((phash # $3::bigint))::bit(64))::int AS distance
     FROM images
     WHERE account_id = $1 AND id <> $2 AND phash IS NOT NULL
       AND bit_count(((phash # $3::bigint))::bit(64)) <= $4
     ORDER BY distance, id
     LIMIT $5`,
  ),
  delete: sql(
    'images.delete',
    'DELETE FROM images WHERE id = $1 AND account_id = $2 RETURNING id, storage_key',
  ),
};

/** Worker-side writes. */
export const WorkerQ = {
  markProcessing: sql(
    'images.mark_processing',
    `UPDATE images SET status = 'processing', attempts = $2, updated_at = now()
     WHERE id = $1 AND status IN ('pending', 'processing') RETURNING id`,
  ),
  // Committed on its own right after the bytes are stored, so a retry never downloads them again.
  recordOriginal: sql(
    'images.record_original',
    `UPDATE images SET storage_key = $2, checksum = $3, byte_size = $4, final_url = $5,
       filename = coalesce(filename, $6), updated_at = now()
     WHERE id = $1`,
  ),
  complete: sql(
    'images.complete',
    `UPDATE images SET status = 'completed', content_type = $2, width = $3, height = $4, orientation = $5,
       format = $6, exif = $7, xmp = $8, iptc = $9, gps = $10, phash = $11, dhash = $12, palette = $13,
       placeholder = $14, variants = $15, error_code = NULL, error_message = NULL, completed_at = now(),
       updated_at = now()
     WHERE id = $1 RETURNING id`,
  ),
  fail: sql(
    'images.fail',
    `UPDATE images SET status = 'failed', error_code = $2, error_message = $3, attempts = $4, updated_at = now()
     WHERE id = $1 RETURNING id`,
  ),
  retrying: sql(
    'images.retrying',
    `UPDATE images SET status = 'pending', error_code = $2, error_message = $3, attempts = $4, updated_at = now()
     WHERE id = $1`,
  ),
};
