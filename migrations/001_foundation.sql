-- Up Migration

-- Ids are prefixed KSUIDs stored as text COLLATE "C", so byte order equals
-- creation order and cursor pagination by id is correct.

CREATE TABLE accounts (
  id text COLLATE "C" PRIMARY KEY CHECK (id ~ '^acc_[0-9A-Za-z]{27}$'),
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
  id text COLLATE "C" PRIMARY KEY CHECK (id ~ '^key_[0-9A-Za-z]{27}$'),
  account_id text COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  name text,
  -- HMAC-SHA-256(SECRET_KEY, key): the key itself is never stored.
  digest bytea NOT NULL UNIQUE,
  display_prefix text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
CREATE INDEX api_keys_account ON api_keys (account_id, id);

CREATE TABLE images (
  id text COLLATE "C" PRIMARY KEY CHECK (id ~ '^img_[0-9A-Za-z]{27}$'),
  account_id text COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
  source text NOT NULL CHECK (source IN ('url', 'upload')),
  url text,
  final_url text,
  filename text,
  content_type text,
  byte_size bigint,
  checksum text CHECK (checksum ~ '^[0-9a-f]{64}$'),
  storage_key text,
  width integer,
  height integer,
  orientation smallint,
  format jsonb,
  exif jsonb,
  xmp jsonb,
  iptc jsonb,
  gps jsonb,
  phash bigint,
  dhash bigint,
  palette jsonb,
  placeholder text,
  variants jsonb NOT NULL DEFAULT '{}',
  requested_variants text[] NOT NULL DEFAULT '{}',
  extract_metadata boolean NOT NULL DEFAULT true,
  webhook_url text,
  -- Raw JSON text, not jsonb: passthrough must come back byte for byte (key order, spacing, unicode escapes).
  passthrough text,
  error_code text,
  error_message text,
  attempts integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz
);
CREATE INDEX images_account_id ON images (account_id, id);
CREATE INDEX images_account_status ON images (account_id, status, id);
CREATE INDEX images_account_checksum ON images (account_id, checksum) WHERE checksum IS NOT NULL;

-- The task queue's table is created by packages/queue/migrations (it runs first).

CREATE TABLE idempotency_keys (
  account_id text COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  key text NOT NULL,
  request_hash text NOT NULL,
  -- NULL while the original request is still in flight.
  response_status smallint,
  response_headers jsonb,
  response_body text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Fixed one-minute windows per API key; UNLOGGED because losing counters on a crash is harmless.
CREATE UNLOGGED TABLE rate_limit_windows (
  key_id text COLLATE "C" NOT NULL,
  window_start timestamptz NOT NULL,
  count integer NOT NULL,
  PRIMARY KEY (key_id, window_start)
);

-- Down Migration
DROP TABLE rate_limit_windows;
DROP TABLE idempotency_keys;
DROP TABLE images;
DROP TABLE api_keys;
DROP TABLE accounts;
