-- Up Migration

-- Near-duplicate search by multi-index hashing (packages/images/src/similar.ts). Each 64-bit
-- hash is read as four 16-bit bands; by the pigeonhole principle any hash within Hamming
-- distance r of the query has a band within floor(r/4) bits of the query's band. A query
-- enumerates those band values, looks them up in the indexes below, and rechecks the exact
-- distance, so the result is the same as a scan. The indexes include the id and hashes, so
-- the candidates come from index-only scans and only the matches read the table.
--
-- Flat and near-flat images (a constant colour, a near-white scan) give hashes that pile into
-- a few band values and match each other at distance 0 without being alike: they are flagged
-- and left out of the indexes and of similarity results. pHash splits 64 DCT terms at their
-- median, so a real picture has ~32 bits set; fewer than 16 means most terms tie with the
-- median. dHash of a flat image is all zeros (or all ones for a pure gradient).
ALTER TABLE images ADD COLUMN hash_degenerate boolean GENERATED ALWAYS AS (
  phash IS NOT NULL AND (
    bit_count(phash::bit(64)) < 16
    OR dhash IS NULL
    OR bit_count(dhash::bit(64)) <= 2
    OR bit_count(dhash::bit(64)) >= 62
  )
) STORED;

-- Exact and closest duplicates found when the image completed (see the Image schema).
ALTER TABLE images ADD COLUMN duplicates jsonb;

CREATE INDEX images_phash_b0 ON images (account_id, ((phash >> 48) & 65535)) INCLUDE (id, phash, dhash)
  WHERE phash IS NOT NULL AND NOT hash_degenerate;
CREATE INDEX images_phash_b1 ON images (account_id, ((phash >> 32) & 65535)) INCLUDE (id, phash, dhash)
  WHERE phash IS NOT NULL AND NOT hash_degenerate;
CREATE INDEX images_phash_b2 ON images (account_id, ((phash >> 16) & 65535)) INCLUDE (id, phash, dhash)
  WHERE phash IS NOT NULL AND NOT hash_degenerate;
CREATE INDEX images_phash_b3 ON images (account_id, (phash & 65535)) INCLUDE (id, phash, dhash)
  WHERE phash IS NOT NULL AND NOT hash_degenerate;
CREATE INDEX images_dhash_b0 ON images (account_id, ((dhash >> 48) & 65535)) INCLUDE (id, phash, dhash)
  WHERE dhash IS NOT NULL AND NOT hash_degenerate;
CREATE INDEX images_dhash_b1 ON images (account_id, ((dhash >> 32) & 65535)) INCLUDE (id, phash, dhash)
  WHERE dhash IS NOT NULL AND NOT hash_degenerate;
CREATE INDEX images_dhash_b2 ON images (account_id, ((dhash >> 16) & 65535)) INCLUDE (id, phash, dhash)
  WHERE dhash IS NOT NULL AND NOT hash_degenerate;
CREATE INDEX images_dhash_b3 ON images (account_id, (dhash & 65535)) INCLUDE (id, phash, dhash)
  WHERE dhash IS NOT NULL AND NOT hash_degenerate;

-- The planner needs to know that a band value matches ~1/65,536 of the rows (it cannot read
-- that from partial expression indexes); without these statistics it estimated a quarter of
-- the table for 137 band values and chose a sequential scan.
CREATE STATISTICS images_phash_bands ON ((phash >> 48) & 65535), ((phash >> 32) & 65535),
  ((phash >> 16) & 65535), (phash & 65535) FROM images;
CREATE STATISTICS images_dhash_bands ON ((dhash >> 48) & 65535), ((dhash >> 32) & 65535),
  ((dhash >> 16) & 65535), (dhash & 65535) FROM images;

-- Down Migration
DROP STATISTICS images_phash_bands, images_dhash_bands;
DROP INDEX images_phash_b0, images_phash_b1, images_phash_b2, images_phash_b3,
  images_dhash_b0, images_dhash_b1, images_dhash_b2, images_dhash_b3;
ALTER TABLE images DROP COLUMN duplicates;
ALTER TABLE images DROP COLUMN hash_degenerate;
