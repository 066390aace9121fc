import { createHash } from 'node:crypto';
import { withTransaction } from '@imgkit/db';
import { getImageById } from '@imgkit/images';
import {
  completeJob,
  failJob,
  type JobParams,
  type JobRow,
  jobInputKey,
  jobOutputKey,
  markJobRetrying,
  RENDER_JOB,
  recordJobInput,
  startJob,
} from '@imgkit/jobs';
import type { TransformSpec } from '@imgkit/media';
import { type ClaimedTask, permanentError, type TaskKindDefinition } from '@imgkit/queue';
import type { TaskSettings } from '../settings.ts';
import type { TaskDeps } from './deps.ts';
import { attemptsOf, downloadAndStore, mediaTask } from './media-task.ts';

/** render_job: one transformation of one input, announced with job.completed / job.failed. */
export function renderJobTask(deps: TaskDeps, settings: TaskSettings): TaskKindDefinition {
  const { pool, storage } = deps;
  const announce = { webhookAttempts: settings.webhooks.retryScheduleMs.length };
  const jobOf = (task: ClaimedTask) => task.subject_id ?? (task.payload as { job_id: string }).job_id;
  return mediaTask(RENDER_JOB, settings, settings.renderJob.backoffMs, {
    async handler({ job_id: jobId }, ctx) {
      const job = await startJob(pool, jobId, ctx.task.attempts);
      if (!job) return;
      const input = await inputBytes(job, ctx.signal);
      const rendered = await deps.media.transform(input, await specOf(job.params as unknown as JobParams));
      const key = jobOutputKey(job.account_id, job.id);
      const stored = await storage.putBuffer(key, rendered.data);
      await withTransaction(pool, async (tx) => {
        await completeJob(
          tx,
          jobId,
          {
            storageKey: key,
            format: rendered.format,
            width: rendered.width,
            height: rendered.height,
            byteSize: stored.byteSize,
            checksum: createHash('sha256').update(rendered.data).digest('hex'),
          },
          announce,
        );
        await ctx.completeWithin(tx);
      });
    },
    onRetry: (tx, task, error) => markJobRetrying(tx, jobOf(task), error, task.attempts),
    onFinalFailure: (tx, task, error) => failJob(tx, jobOf(task), error, attemptsOf(task), announce),
  });

  /** The stored job parameters as a transform spec (the watermark image read from storage). */
  async function specOf(p: JobParams): Promise<TransformSpec> {
    const w = p.watermark;
    return {
      operation: p.operation as TransformSpec['operation'],
      width: p.width,
      height: p.height,
      gravity: p.fit as TransformSpec['gravity'],
      format: p.output_format as TransformSpec['format'],
      quality: p.quality,
      enlarge: p.enlarge,
      keepMetadata: p.keep_metadata,
      watermark: w && {
        text: w.text,
        position: w.position as NonNullable<TransformSpec['watermark']>['position'],
        margin: w.margin,
        opacity: w.opacity,
        scale: w.scale,
        image: w.image_storage_key ? await storage.readBuffer(w.image_storage_key) : undefined,
      },
    };
  }

  async function inputBytes(job: JobRow, signal: AbortSignal): Promise<Buffer> {
    if (job.input_storage_key) return storage.readBuffer(job.input_storage_key);
    if (job.input_image_id) {
      const image = await getImageById(pool, job.input_image_id);
      if (!image?.storage_key) throw permanentError('input_missing', 'the input image no longer exists');
      return storage.readBuffer(image.storage_key);
    }
    if (!job.input_url) throw permanentError('input_missing', 'the job has no input');
    // Stored once, so a retry renders from our copy instead of downloading again.
    const key = jobInputKey(job.account_id, job.id);
    const { download } = await downloadAndStore(deps, settings, job.input_url, key, signal);
    await recordJobInput(pool, job.id, key);
    return download.bytes;
  }
}
