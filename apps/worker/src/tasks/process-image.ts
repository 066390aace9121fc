import { getIntakeRules } from '@imgkit/auth';
import { withTransaction } from '@imgkit/db';
import {
  completeImage,
  failImage,
  type ImageRow,
  markRetrying,
  originalKey,
  PROCESS_IMAGE,
  recordOriginal,
  startProcessing,
  variantKey,
  variantsPrefix,
} from '@imgkit/images';
import { type IntakeRules, RULE_PREFIX } from '@imgkit/media/core';
import type { Processed } from '@imgkit/media-pool';
import { type ClaimedTask, permanentError, TaskError, type TaskKindDefinition } from '@imgkit/queue';
import type { TaskSettings } from '../settings.ts';
import { type TaskDeps, timed } from './deps.ts';
import { attemptsOf, downloadAndStore, mediaTask } from './media-task.ts';

/**
 * process_image: get the bytes (the stored upload, or a guarded download that
 * follows og:image), store the original once, extract everything, and mark the
 * image completed in the same transaction that completes the task.
 */
export function processImageTask(deps: TaskDeps, settings: TaskSettings): TaskKindDefinition {
  const { pool, storage } = deps;
  const announce = { webhookAttempts: settings.webhooks.retryScheduleMs.length };
  const imageOf = (task: ClaimedTask) => task.subject_id ?? (task.payload as { image_id: string }).image_id;
  return mediaTask(PROCESS_IMAGE, settings, settings.processImage.backoffMs, {
    async handler({ image_id: imageId }, ctx) {
      const image = await startProcessing(pool, imageId, ctx.task.attempts);
      if (!image) return; // deleted, or already final
      // The account's intake rules as they are now: format, bytes, pixels and animation are
      // judged from the header in the media pool, before anything is decoded.
      const intake = await getIntakeRules<IntakeRules>(pool, image.account_id);
      const bytes = await originalBytes(image, intake, ctx.signal);
      const requested = image.requested_variants
        .filter((name) => Object.hasOwn(settings.variantPresets, name))
        .map((name) => ({ name, width: settings.variantPresets[name] }));
      // Extraction and variants in the media pool, from one copy of the bytes.
      const processed = await timed(deps, 'extract', () =>
        deps.media.processImage(bytes, { metadata: image.extract_metadata, variants: requested, intake }),
      );
      const extracted = processed.extracted;
      const variants = await timed(deps, 'render', () => storeVariants(image, processed.variants));
      // Outbox: the image's final state, its webhook messages and the task's completion commit together.
      const stillThere = await withTransaction(pool, async (tx) => {
        const found = await completeImage(tx, imageId, extracted, variants, announce);
        await ctx.completeWithin(tx);
        return found;
      });
      // Deleted while we worked: the api removed the blobs it knew of, before these existed.
      if (!stillThere) {
        await storage.deletePrefix(variantsPrefix(image.account_id, imageId));
        await storage.delete(originalKey(image.account_id, imageId));
      }
    },
    onRetry: (tx, task, error) => markRetrying(tx, imageOf(task), error, task.attempts),
    onFinalFailure: (tx, task, error) => failImage(tx, imageOf(task), error, attemptsOf(task), announce),
  });

  /** The rendered presets, stored under the image. */
  async function storeVariants(
    image: ImageRow,
    rendered: Processed['variants'],
  ): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const { name, rendered: r } of rendered) {
      const stored = await storage.putBuffer(variantKey(image.account_id, image.id, name), r.data);
      out[name] = {
        width: r.width,
        height: r.height,
        format: r.format,
        byte_size: stored.byteSize,
        url: `/v1/images/${image.id}/variants/${name}`,
      };
    }
    return out;
  }

  /** The stored original, or a download stored now — committed at once so a retry never downloads again. */
  async function originalBytes(image: ImageRow, intake: IntakeRules, signal: AbortSignal): Promise<Buffer> {
    if (image.storage_key) return storage.readBuffer(image.storage_key);
    if (!image.url) throw permanentError('no_source', 'the image has neither stored bytes nor a URL');
    const key = originalKey(image.account_id, image.id);
    // A download stops at the account's byte rule when that is below the service's limit.
    const rule = intake.max_bytes;
    const byRule = rule !== undefined && rule < settings.download.maxBytes;
    const limited = byRule ? { ...settings, download: { ...settings.download, maxBytes: rule } } : settings;
    const { download, stored } = await timed(deps, 'fetch', () =>
      downloadAndStore(deps, limited, image.url!, key, signal),
    ).catch((err: unknown) => {
      if (byRule && err instanceof TaskError && err.code === 'download_too_large') {
        throw permanentError(
          'rejected_by_rule',
          `${RULE_PREFIX}max_bytes: the file is larger than ${rule} bytes, the most this account accepts`,
          err,
        );
      }
      throw err;
    });
    await recordOriginal(pool, image.id, {
      storageKey: key,
      checksum: stored.sha256,
      byteSize: stored.byteSize,
      finalUrl: download.finalUrl,
      filename: download.filename,
    });
    return download.bytes;
  }
}
