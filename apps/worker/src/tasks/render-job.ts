import { createHash } from 'node:crypto';
import { type Queryable, query, queryOne, withTransaction } from '@imgkit/db';
import { type ImageRow, imageQueries } from '@imgkit/images';
import { type JobRow, jobInputKey, jobJson, jobOutputKey, jobQueries as Q, RENDER_JOB } from '@imgkit/jobs';
import { MediaError, type TransformSpec, transformImage } from '@imgkit/media';
import { type ClaimedTask, permanentError, type TaskKindDefinition } from '@imgkit/queue';
import { type EventType, recordEvent } from '@imgkit/webhooks';
import { downloadImage } from '../download.ts';
import type { TaskDeps } from './index.ts';

interface Payload {
  job_id: string;
}

interface JobParams {
  operation: TransformSpec['operation'];
  width?: number;
  height?: number;
  fit?: TransformSpec['gravity'];
  output_format?: TransformSpec['format'];
  quality?: number;
  enlarge?: boolean;
  keep_metadata?: boolean;
  watermark?: {
    image_storage_key?: string;
    text?: string;
    position?: never;
    margin?: number;
    opacity?: number;
    scale?: number;
  };
}

/** render_job: one transformation of one input, announced with job.completed / job.failed. */
export function renderJobTask(deps: TaskDeps): TaskKindDefinition {
  const { config, pool, storage, fetcher } = deps;
  return {
    kind: RENDER_JOB,
    timeoutMs: config.FETCH_TIMEOUT_MS + config.DECODE_TIMEOUT_MS + 30_000,
    backoff: { baseMs: config.PROCESS_IMAGE_BACKOFF_MS, capMs: 10 * 60_000 },
    async handler(payload, ctx) {
      const { job_id: jobId } = payload as Payload;
      const job = await queryOne<JobRow>(pool, Q.getById, [jobId]);
      if (!job || job.status === 'completed' || job.status === 'failed') return;
      await query(pool, Q.markProcessing, [jobId, ctx.task.attempts]);
      const input = await inputBytes(job, ctx.signal);
      const p = job.params as unknown as JobParams;
      const watermark = p.watermark
        ? {
            ...p.watermark,
            image: p.watermark.image_storage_key
              ? await storage.readBuffer(p.watermark.image_storage_key)
              : undefined,
          }
        : undefined;
      let rendered: Awaited<ReturnType<typeof transformImage>>;
      try {
        rendered = await transformImage(
          input,
          {
            operation: p.operation,
            width: p.width,
            height: p.height,
            gravity: p.fit,
            format: p.output_format,
            quality: p.quality,
            enlarge: p.enlarge,
            keepMetadata: p.keep_metadata,
            watermark,
          },
          {
            maxInputPixels: config.MAX_INPUT_PIXELS,
            maxFrames: config.MAX_ANIMATION_FRAMES,
            maxOutputSide: config.MAX_OUTPUT_SIDE,
            timeoutSeconds: Math.ceil(config.DECODE_TIMEOUT_MS / 1000),
          },
        );
      } catch (err) {
        if (err instanceof MediaError) throw permanentError(err.code, err.message, err);
        throw err;
      }
      const key = jobOutputKey(job.account_id, job.id);
      const stored = await storage.putBuffer(key, rendered.data);
      await withTransaction(pool, async (tx) => {
        const row = await queryOne<JobRow>(tx, Q.complete, [
          jobId,
          key,
          rendered.format,
          rendered.width,
          rendered.height,
          stored.byteSize,
          createHash('sha256').update(rendered.data).digest('hex'),
        ]);
        await announce(tx, row!, 'job.completed');
        await ctx.completeWithin(tx);
      });
    },
    onRetry: async (tx, task, error) => {
      await query(tx, Q.retrying, [jobOf(task), error.code, error.message, task.attempts]);
    },
    onFinalFailure: async (tx, task, error) => {
      const row = await queryOne<JobRow>(tx, Q.fail, [
        jobOf(task),
        error.code,
        error.message,
        Math.min(task.attempts, task.max_attempts),
      ]);
      if (row) await announce(tx, row, 'job.failed');
    },
  };

  async function inputBytes(job: JobRow, signal: AbortSignal): Promise<Buffer> {
    if (job.input_storage_key) return storage.readBuffer(job.input_storage_key);
    if (job.input_image_id) {
      const image = await queryOne<ImageRow>(pool, imageQueries.getById, [job.input_image_id]);
      if (!image?.storage_key) throw permanentError('input_missing', 'the input image no longer exists');
      return storage.readBuffer(image.storage_key);
    }
    if (!job.input_url) throw permanentError('input_missing', 'the job has no input');
    const download = await downloadImage(
      fetcher,
      job.input_url,
      { maxBytes: config.MAX_DOWNLOAD_BYTES, timeoutMs: config.FETCH_TIMEOUT_MS, htmlHeadBytes: 512 * 1024 },
      signal,
    );
    // Stored once, so a retry renders from our copy instead of downloading again.
    const key = jobInputKey(job.account_id, job.id);
    await storage.putBuffer(key, download.bytes);
    await pool.query('UPDATE jobs SET input_storage_key = $2 WHERE id = $1', [job.id, key]);
    return download.bytes;
  }

  async function announce(tx: Queryable, job: JobRow, type: EventType): Promise<void> {
    await recordEvent(
      tx,
      { accountId: job.account_id, type, dataJson: jobJson(job), jobId: job.id, webhookUrl: job.webhook_url },
      config.WEBHOOK_RETRY_SCHEDULE.length,
    );
  }
}

function jobOf(task: ClaimedTask): string {
  return task.subject_id ?? (task.payload as Payload).job_id;
}
