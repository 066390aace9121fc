-- Up Migration

-- Bumped by POST /v1/images/:id/purge. Signed URLs carry it (`v:N`, omitted while it is 1), so
-- every URL issued after a purge differs from the ones before, and those answer 410.
ALTER TABLE images ADD COLUMN rendition_version integer NOT NULL DEFAULT 1;

-- What an account accepts at intake (PATCH /v1/account): allowed formats, pixel bounds, bytes,
-- animation. Empty: everything the service supports.
ALTER TABLE accounts ADD COLUMN intake_rules jsonb NOT NULL DEFAULT '{}';

-- Down Migration
ALTER TABLE accounts DROP COLUMN intake_rules;
ALTER TABLE images DROP COLUMN rendition_version;
