-- Up Migration

-- When the picture was taken (ISO 8601 text: with the UTC offset when the file records one,
-- local wall time or a date alone otherwise — a timestamptz would invent a zone).
ALTER TABLE images ADD COLUMN taken_at text;

-- Down Migration
ALTER TABLE images DROP COLUMN taken_at;
