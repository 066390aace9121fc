-- Up Migration

CREATE TABLE jobs (
  id text COLLATE "C" PRIMARY KEY CHECK (id ~ '^job_[0-9A-Za-z]{27}$'),
  account_id text COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
  operation text NOT NULL,
  -- The validated request: width, height, fit, gravity, output_format, quality, watermark.
  params jsonb NOT NULL,
  input_image_id text COLLATE "C",
  input_url text,
  input_storage_key text,
  output_storage_key text,
  output_format text,
  output_width integer,
  output_height integer,
  output_byte_size bigint,
  output_checksum text,
  webhook_url text,
  passthrough text,
  error_code text,
  error_message text,
  attempts integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz
);
CREATE INDEX jobs_account ON jobs (account_id, id);

-- Down Migration
DROP TABLE jobs;
