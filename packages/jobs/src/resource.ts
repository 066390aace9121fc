import { withRawMember } from '@imgkit/json';
import type { WorkItemRow } from '@imgkit/lifecycle';

/** A `jobs` row as pg returns it. */
export interface JobRow extends WorkItemRow {
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
}

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
