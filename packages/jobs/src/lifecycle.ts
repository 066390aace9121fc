import { type Pool, type Queryable, query, queryOne, sql } from '@imgkit/db';
import { ConflictError, InputError, TooLargeError } from '@imgkit/errors';
import { checkPublicUrl } from '@imgkit/fetch';
import { type IdempotencyScope, idempotentCreate, type StoredResponse } from '@imgkit/idempotency';
import { getImage } from '@imgkit/images';
import {
  type ErrorInfo,
  markFailed,
  markRetrying,
  reopen,
  startAttempt,
  transitions,
} from '@imgkit/lifecycle';
import { enqueue } from '@imgkit/queue';
import type { BlobStore } from '@imgkit/storage';
import { type EventType, recordEvent } from '@imgkit/webhooks';
import { RENDER_JOB } from './render-job-kind.ts';
import { type JobRow, jobInputKey, jobJson } from './resource.ts';

/** What a job does: its stored parameters (inputs and delivery are columns of their own). */
export interface JobParams {
  operation: string;
  width?: number;
  height?: number;
  fit?: string;
  output_format?: string;
  quality?: number;
  enlarge?: boolean;
  keep_metadata?: boolean;
  watermark?: {
    image_id?: string;
    /** Filled in at creation from image_id: the watermark's stored original. */
    image_storage_key?: string;
    text?: string;
    position?: string;
    margin?: number;
    opacity?: number;
    scale?: number;
  };
}

export interface NewJob {
  id: string;
  accountId: string;
  params: JobParams;
  /** Exactly one input. */
  input: { imageId: string } | { url: string } | { base64: string };
  webhookUrl: string | null;
  passthrough: string | null;
}

export interface CreateJobDeps {
  pool: Pool;
  storage: BlobStore;
  maxAttempts: number;
  maxInputBytes: number;
  allowPrivateNetworks: boolean;
}

const insertSql = sql(
  'jobs.insert',
  `INSERT INTO jobs (id, account_id, operation, params, input_image_id, input_url, input_storage_key, webhook_url,
                     passthrough)
   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`,
);

/**
 * Checks the inputs (URLs are public, images exist and are stored), stores inline
 * bytes, and creates the job with its render_job task — idempotently, with the same
 * sequence as images.
 */
export async function createJob(
  deps: CreateJobDeps,
  job: NewJob,
  idempotency?: Omit<IdempotencyScope, 'accountId'>,
): Promise<{ response: StoredResponse; replayed: boolean }> {
  const { input } = job;
  if (job.webhookUrl) await requirePublicUrl(deps, job.webhookUrl, 'webhook_url', true);
  // A source URL is checked again at every connect; no DNS lookup on the request path.
  if ('url' in input) await requirePublicUrl(deps, input.url, 'url', false);
  if ('imageId' in input) await requireStoredImage(deps.pool, input.imageId, job.accountId, 'image_id');
  const params: JobParams = { ...job.params };
  if (params.watermark?.image_id) {
    const mark = await requireStoredImage(
      deps.pool,
      params.watermark.image_id,
      job.accountId,
      'watermark.image_id',
    );
    // Decoded with no check of its own, a watermark must be an image we have already decoded.
    if (mark.status !== 'completed') {
      throw new InputError('watermark.image_id', `must be a completed image (it is ${mark.status})`);
    }
    params.watermark = { ...params.watermark, image_storage_key: mark.storage_key! };
  }
  const inputKey = 'base64' in input ? await storeInline(deps, input.base64, job) : null;
  const location = `/v1/jobs/${job.id}`;
  const body = JSON.stringify({
    job_id: job.id,
    status: 'pending',
    message: `Job accepted; poll ${location} or wait for the job.completed webhook.`,
  });
  return idempotentCreate(deps.pool, idempotency && { ...idempotency, accountId: job.accountId }, {
    inTransaction: async (tx) => {
      await query(tx, insertSql, [
        job.id,
        job.accountId,
        params.operation,
        params,
        'imageId' in input ? input.imageId : null,
        'url' in input ? input.url : null,
        inputKey,
        job.webhookUrl,
        job.passthrough,
      ]);
      await enqueue(
        tx,
        RENDER_JOB,
        { job_id: job.id },
        { subjectId: job.id, maxAttempts: deps.maxAttempts, fairKey: job.accountId },
      );
      return { status: 202, headers: { Location: location }, body };
    },
    discard: async () => {
      if (inputKey) await deps.storage.delete(inputKey);
    },
  });
}

async function requirePublicUrl(
  deps: CreateJobDeps,
  url: string,
  field: string,
  resolve: boolean,
): Promise<void> {
  const verdict = await checkPublicUrl(url, { allowPrivateNetworks: deps.allowPrivateNetworks, resolve });
  if (!verdict.ok) throw new InputError(field, verdict.reason);
}

const IMAGE_ID = /^img_[0-9A-Za-z]{27}$/;

async function requireStoredImage(db: Queryable, id: string, accountId: string, field: string) {
  const row = IMAGE_ID.test(id) ? await getImage(db, id, accountId) : undefined;
  if (!row) throw new InputError(field, 'no such image');
  if (row.status === 'failed')
    throw new InputError(field, `the image failed (${row.error_code}); it cannot be an input`);
  if (!row.storage_key) throw new ConflictError('image_not_ready', `Image ${id} has no stored original yet.`);
  return row;
}

/** base64 is checked for size from its length before a single byte is decoded. */
async function storeInline(deps: CreateJobDeps, data: string, job: NewJob): Promise<string> {
  const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
  const decodedLength = Math.floor((data.length * 3) / 4) - padding;
  if (decodedLength > deps.maxInputBytes) throw new TooLargeError(deps.maxInputBytes);
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(data) || data.length === 0) {
    throw new InputError('image_data', 'must be base64');
  }
  const key = jobInputKey(job.accountId, job.id);
  await deps.storage.putBuffer(key, Buffer.from(data, 'base64'));
  return key;
}

// ---- reads -------------------------------------------------------------------

const getSql = sql('jobs.get', 'SELECT * FROM jobs WHERE id = $1 AND account_id = $2');
const JOB_TRANSITIONS = transitions('jobs', '*');

export function getJob(db: Queryable, id: string, accountId: string): Promise<JobRow | undefined> {
  return queryOne<JobRow>(db, getSql, [id, accountId]);
}

// ---- the worker's side -------------------------------------------------------

/** The job a render_job attempt works on, marked processing; undefined when there is nothing to do. */
export function startJob(db: Queryable, id: string, attempt: number): Promise<JobRow | undefined> {
  return startAttempt<JobRow>(db, JOB_TRANSITIONS, id, attempt);
}

const recordInputSql = sql('jobs.record_input', 'UPDATE jobs SET input_storage_key = $2 WHERE id = $1');

/** A downloaded input, stored once so a retry renders from our copy instead of downloading again. */
export function recordJobInput(db: Queryable, id: string, storageKey: string): Promise<unknown> {
  return query(db, recordInputSql, [id, storageKey]);
}

const completeSql = sql(
  'jobs.complete',
  `UPDATE jobs SET status = 'completed', output_storage_key = $2, output_format = $3, output_width = $4,
     output_height = $5, output_byte_size = $6, output_checksum = $7, error_code = NULL, error_message = NULL,
     completed_at = now(), updated_at = now()
   WHERE id = $1 RETURNING *`,
);

export interface JobOutput {
  storageKey: string;
  format: string;
  width: number;
  height: number;
  byteSize: number;
  checksum: string;
}

/** Inside the caller's transaction: the output and the job.completed webhooks (outbox). */
export async function completeJob(
  tx: Queryable,
  id: string,
  out: JobOutput,
  o: { webhookAttempts: number },
): Promise<void> {
  const row = await queryOne<JobRow>(tx, completeSql, [
    id,
    out.storageKey,
    out.format,
    out.width,
    out.height,
    out.byteSize,
    out.checksum,
  ]);
  if (row) await announce(tx, row, 'job.completed', o.webhookAttempts);
}

export async function failJob(
  tx: Queryable,
  id: string,
  error: ErrorInfo,
  attempts: number,
  o: { webhookAttempts: number },
): Promise<void> {
  const row = await markFailed<JobRow>(tx, JOB_TRANSITIONS, id, error, attempts);
  if (row) await announce(tx, row, 'job.failed', o.webhookAttempts);
}

export function markJobRetrying(
  tx: Queryable,
  id: string,
  error: ErrorInfo,
  attempts: number,
): Promise<void> {
  return markRetrying(tx, JOB_TRANSITIONS, id, error, attempts);
}

async function announce(tx: Queryable, job: JobRow, type: EventType, webhookAttempts: number): Promise<void> {
  await recordEvent(
    tx,
    { accountId: job.account_id, type, dataJson: jobJson(job), jobId: job.id, webhookUrl: job.webhook_url },
    webhookAttempts,
  );
}

/** A failed job back to pending, for an operator's `imgkit tasks retry`. */
export function reopenJob(tx: Queryable, id: string): Promise<boolean> {
  return reopen(tx, JOB_TRANSITIONS, id);
}
