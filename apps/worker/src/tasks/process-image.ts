import { type PoolClient, type Queryable, query, queryOne, withTransaction } from '@imgkit/db';
import {
  hexToHash,
  type ImageRow,
  imageJson,
  imageQueries,
  originalKey,
  imageWorkerQueries as Q,
  variantKey,
} from '@imgkit/images';
import { type Extracted, extractImage, MediaError, transformImage } from '@imgkit/media';
import { type ClaimedTask, type ErrorRecord, permanentError, type TaskKindDefinition } from '@imgkit/queue';
import { type EventType, recordEvent } from '@imgkit/webhooks';
import { downloadImage } from '../download.ts';
import type { TaskDeps } from './index.ts';

interface Payload {
  image_id: string;
}

/**
 * process_image: get the bytes (the stored upload, or a guarded download that
 * follows og:image), store the original once, extract everything, and mark the
 * image completed in the same transaction that completes the task.
 */
export function processImageTask(deps: TaskDeps): TaskKindDefinition {
  const { config, pool, storage, fetcher } = deps;
  const timed = async <T>(stage: 'fetch' | 'extract' | 'render', fn: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await fn();
    } finally {
      deps.observeStage?.(stage, (performance.now() - started) / 1000);
    }
  };
  return {
    kind: 'process_image',
    timeoutMs: config.FETCH_TIMEOUT_MS + config.DECODE_TIMEOUT_MS + 30_000,
    backoff: { baseMs: config.PROCESS_IMAGE_BACKOFF_MS, capMs: 10 * 60_000 },
    async handler(payload, ctx) {
      const { image_id: imageId } = payload as Payload;
      const image = await queryOne<ImageRow>(pool, imageQueries.getById, [imageId]);
      if (!image || image.status === 'completed' || image.status === 'failed') return; // deleted or already done
      await query(pool, Q.markProcessing, [imageId, ctx.task.attempts]);

      const bytes = await originalBytes(image, ctx.signal);
      let extracted: Extracted;
      try {
        extracted = await timed('extract', () =>
          extractImage(
            bytes,
            {
              maxInputPixels: config.MAX_INPUT_PIXELS,
              maxFrames: config.MAX_ANIMATION_FRAMES,
              decodeTimeoutSeconds: Math.ceil(config.DECODE_TIMEOUT_MS / 1000),
            },
            { metadata: image.extract_metadata },
          ),
        );
      } catch (err) {
        if (err instanceof MediaError) throw permanentError(err.code, err.message, err);
        throw err;
      }
      const variants = extracted.format.decodable
        ? await timed('render', () => renderVariants(image, bytes))
        : {};
      // Outbox: the image's final state, its webhook messages and the task's completion commit together.
      await withTransaction(pool, async (tx) => {
        await saveExtraction(tx, imageId, extracted, variants);
        await announce(tx, imageId, 'image.completed');
        await ctx.completeWithin(tx);
      });
    },
    onRetry: async (tx, task, error) => {
      await query(tx, Q.retrying, [subjectOf(task), error.code, error.message, task.attempts]);
    },
    onFinalFailure: async (tx, task, error: ErrorRecord) => {
      const attempts = Math.min(task.attempts, task.max_attempts);
      await query(tx, Q.fail, [subjectOf(task), error.code, error.message, attempts]);
      await announce(tx, subjectOf(task), 'image.failed');
    },
  };

  /** The requested presets (fit inside N px wide, JPEG), from the bytes already in memory. */
  async function renderVariants(image: ImageRow, bytes: Buffer): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const name of image.requested_variants) {
      const width = config.VARIANT_PRESETS[name];
      if (!width) continue;
      const rendered = await transformImage(
        bytes,
        { operation: 'thumbnail', width, format: 'jpeg' },
        {
          maxInputPixels: config.MAX_INPUT_PIXELS,
          maxFrames: config.MAX_ANIMATION_FRAMES,
          maxOutputSide: config.MAX_OUTPUT_SIDE,
          timeoutSeconds: Math.ceil(config.DECODE_TIMEOUT_MS / 1000),
        },
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

  async function announce(tx: Queryable, imageId: string, type: EventType): Promise<void> {
    const row = await queryOne<ImageRow>(tx, imageQueries.getById, [imageId]);
    if (!row) return;
    await recordEvent(
      tx,
      { accountId: row.account_id, type, dataJson: imageJson(row), imageId, webhookUrl: row.webhook_url },
      config.WEBHOOK_RETRY_SCHEDULE.length,
    );
  }

  /** The stored original, or a download stored now — committed at once so a retry never downloads again. */
  async function originalBytes(image: ImageRow, signal: AbortSignal): Promise<Buffer> {
    if (image.storage_key) return storage.readBuffer(image.storage_key);
    if (!image.url) throw permanentError('no_source', 'the image has neither stored bytes nor a URL');
    const download = await timed('fetch', () =>
      downloadImage(
        fetcher,
        image.url!,
        {
          maxBytes: config.MAX_DOWNLOAD_BYTES,
          timeoutMs: config.FETCH_TIMEOUT_MS,
          htmlHeadBytes: 512 * 1024,
        },
        signal,
      ),
    );
    const key = originalKey(image.account_id, image.id);
    const stored = await storage.putBuffer(key, download.bytes);
    await query(pool, Q.recordOriginal, [
      image.id,
      key,
      stored.sha256,
      stored.byteSize,
      download.finalUrl,
      download.filename,
    ]);
    return download.bytes;
  }
}

async function saveExtraction(
  tx: PoolClient | Queryable,
  imageId: string,
  x: Extracted,
  variants: Record<string, unknown>,
): Promise<void> {
  await query(tx, Q.complete, [
    imageId,
    x.mime,
    x.width,
    x.height,
    x.orientation,
    x.format,
    x.exif,
    x.xmp,
    x.iptc,
    x.gps,
    x.phash === null ? null : hexToHash(x.phash),
    x.dhash === null ? null : hexToHash(x.dhash),
    x.palette === null ? null : JSON.stringify(x.palette),
    x.placeholder,
    variants,
  ]);
}

function subjectOf(task: ClaimedTask): string {
  return task.subject_id ?? (task.payload as Payload).image_id;
}
