-- Up Migration

-- The account's default secret signs deliveries to an image's own webhook_url.
-- Secrets are stored as they are: HMAC signing needs them (see docs/decisions.md).
ALTER TABLE accounts
  ADD COLUMN webhook_secret text,
  ADD COLUMN webhook_previous_secret text,
  ADD COLUMN webhook_previous_secret_expires_at timestamptz;

CREATE TABLE webhook_endpoints (
  id text COLLATE "C" PRIMARY KEY CHECK (id ~ '^whe_[0-9A-Za-z]{27}$'),
  account_id text COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  url text NOT NULL,
  description text,
  -- Empty means every event.
  events text[] NOT NULL DEFAULT '{}',
  enabled boolean NOT NULL DEFAULT true,
  disabled_reason text,
  secret text NOT NULL,
  previous_secret text,
  previous_secret_expires_at timestamptz,
  -- Set at the first failure of a streak, cleared by a success: 5 days of it disables the endpoint.
  failing_since timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_account ON webhook_endpoints (account_id, id);

CREATE TABLE webhook_messages (
  id text COLLATE "C" PRIMARY KEY CHECK (id ~ '^msg_[0-9A-Za-z]{27}$'),
  account_id text COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  -- NULL for deliveries to an image's own webhook_url.
  endpoint_id text COLLATE "C" REFERENCES webhook_endpoints (id) ON DELETE SET NULL,
  url text NOT NULL,
  event_type text NOT NULL,
  image_id text COLLATE "C",
  job_id text COLLATE "C",
  -- The exact bytes that are signed and sent.
  payload text NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  last_error text,
  next_attempt_at timestamptz,
  delivered_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_messages_account ON webhook_messages (account_id, id);
CREATE INDEX webhook_messages_image ON webhook_messages (image_id) WHERE image_id IS NOT NULL;
CREATE INDEX webhook_messages_job ON webhook_messages (job_id) WHERE job_id IS NOT NULL;
CREATE INDEX webhook_messages_endpoint ON webhook_messages (endpoint_id, id) WHERE endpoint_id IS NOT NULL;

CREATE TABLE webhook_attempts (
  id text COLLATE "C" PRIMARY KEY CHECK (id ~ '^att_[0-9A-Za-z]{27}$'),
  message_id text COLLATE "C" NOT NULL REFERENCES webhook_messages (id) ON DELETE CASCADE,
  attempted_at timestamptz NOT NULL DEFAULT now(),
  url text NOT NULL,
  status_code integer,
  latency_ms integer NOT NULL,
  error text,
  -- First 1 KiB of the receiver's answer.
  response_body text
);
CREATE INDEX webhook_attempts_message ON webhook_attempts (message_id, id);

-- Down Migration
DROP TABLE webhook_attempts;
DROP TABLE webhook_messages;
DROP TABLE webhook_endpoints;
ALTER TABLE accounts DROP COLUMN webhook_secret, DROP COLUMN webhook_previous_secret,
  DROP COLUMN webhook_previous_secret_expires_at;
