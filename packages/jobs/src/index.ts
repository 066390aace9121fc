import { sql } from '@imgkit/db';
import { withRawMember } from '@imgkit/images';

/** A `jobs` row as pg returns it. */
export interface JobRow {
  id: string;
  account_id: string;
  status: 'pending' | 'processing' | 'completed' | 'failed';
  operation: string;
  params: Record<string, unknown>;
  input_image_id: string | null;
  input_url: string | null;
  input_storage_key: string | null;
  output_storage_key: string | null;
  output_format: string | null;
  output_width: number | null;
  output_height: number | null;
  output_byte_size: string | null;
  output_checksum: string | null;
  webhook_url: string | null;
  passthrough: string | null;
  error_code: string | null;
  error_message: string | null;
  attempts: number;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
}

export const RENDER_JOB = 'render_job';

export const jobQueries = {
  insert: sql(
    'jobs.insert',
    `INSERT INTO jobs (id, account_id, operation, params, input_image_id, input_url, input_storage_key, webhook_url,
                       passthrough)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`,
  ),
  get: sql('jobs.get', 'SELECT * FROM jobs WHERE id = $1 AND account_id = $2'),
  getById: sql('jobs.get_by_id', 'SELECT * FROM jobs WHERE id = $1'),
  markProcessing: sql(
    'jobs.mark_processing',
    `UPDATE jobs SET status = 'processing', attempts = $2, updated_at = now() WHERE id = $1`,
  ),
  complete: sql(
    'jobs.complete',
    `UPDATE jobs SET status = 'completed', output_storage_key = $2, output_format = $3, output_width = $4,
       output_height = $5, output_byte_size = $6, output_checksum = $7, error_code = NULL, error_message = NULL,
       completed_at = now(), updated_at = now()
     WHERE id = $1 RETURNING *`,
  ),
  fail: sql(
    'jobs.fail',
    `UPDATE jobs SET status = 'failed', error_code = $2, error_message = $3, attempts = $4, updated_at = now()
     WHERE id = $1 RETURNING *`,
  ),
  retrying: sql(
    'jobs.retrying',
    `UPDATE jobs SET status = 'pending', error_code = $2, error_message = $3, attempts = $4, updated_at = now()
     WHERE id = $1`,
  ),
};

export function jobOutputKey(accountId: string, jobId: string): string {
  return `jobs/${accountId}/${jobId}/output`;
}

export function jobInputKey(accountId: string, jobId: string): string {
  return `jobs/${accountId}/${jobId}/input`;
}

/** The public job record as JSON text (passthrough spliced in raw, as for images). */
export function jobJson(row: JobRow): string {
  const resource = {
    id: row.id,
    object: 'job',
    status: row.status,
    operation: row.operation,
    parameters: row.params,
    input: { image_id: row.input_image_id, url: row.input_url, uploaded: row.input_storage_key !== null },
    output:
      row.status === 'completed'
        ? {
            format: row.output_format,
            content_type: row.output_format ? `image/${row.output_format}` : null,
            width: row.output_width,
            height: row.output_height,
            byte_size: row.output_byte_size === null ? null : Number(row.output_byte_size),
            checksum: row.output_checksum,
            download_url: `/v1/jobs/${row.id}/download`,
          }
        : null,
    webhook_url: row.webhook_url,
    error: row.error_code ? { code: row.error_code, message: row.error_message } : null,
    attempts: row.attempts,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    completed_at: row.completed_at ? row.completed_at.toISOString() : null,
  };
  return withRawMember(JSON.stringify(resource), 'passthrough', row.passthrough);
}
