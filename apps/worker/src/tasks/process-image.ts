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
import { extractImage, transformImage } from '@imgkit/media';
import { type ClaimedTask, permanentError, type TaskKindDefinition } from '@imgkit/queue';
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
      const bytes = await originalBytes(image, ctx.signal);
      const extracted = await timed(deps, 'extract', () =>
        extractImage(bytes, settings.media, { metadata: image.extract_metadata }),
      );
      const variants = extracted.format.decodable
        ? await timed(deps, 'render', () => renderVariants(image, bytes))
        : {};
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

  /** The requested presets (fit inside N px wide, JPEG), from the bytes already in memory. */
  async function renderVariants(image: ImageRow, bytes: Buffer): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const name of image.requested_variants) {
      const width = settings.variantPresets[name];
      if (!width) continue;
      const rendered = await transformImage(
        bytes,
        { operation: 'thumbnail', width, format: 'jpeg' },
        settings.media,
      );
      const stored = await storage.putBuffer(variantKey(image.account_id, image.id, name), rendered.data);
      out[name] = {
        width: rendered.width,
        height: rendered.height,
        format: rendered.format,
        byte_size: stored.byteSize,
        url: `/v1/images/${image.id}/variants/${name}`,
      };
    }
    return out;
  }

  /** The stored original, or a download stored now — committed at once so a retry never downloads again. */
  async function originalBytes(image: ImageRow, signal: AbortSignal): Promise<Buffer> {
    if (image.storage_key) return storage.readBuffer(image.storage_key);
    if (!image.url) throw permanentError('no_source', 'the image has neither stored bytes nor a URL');
    const key = originalKey(image.account_id, image.id);
    const { download, stored } = await timed(deps, 'fetch', () =>
      downloadAndStore(deps, settings, image.url!, key, signal),
    );
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
