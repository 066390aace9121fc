import type { Queryable } from '@imgkit/db';
import type { SafeFetcher } from '@imgkit/fetch';
import { MediaError } from '@imgkit/media/core';
import type { MediaPool } from '@imgkit/media-pool';
import {
  type ClaimedTask,
  type ErrorRecord,
  outageError,
  permanentError,
  retryableError,
  type TaskContext,
  type TaskKind,
  type TaskKindDefinition,
} from '@imgkit/queue';
import { type BlobStore, type PutResult, StorageUnavailableError } from '@imgkit/storage';
import { type Downloaded, downloadImage } from '../download.ts';
import type { TaskSettings } from '../settings.ts';

/**
 * The skeleton shared by tasks that fetch and decode untrusted images
 * (process_image, render_job): a timeout that covers one download and one decode,
 * exponential backoff, and MediaError (not an image, a bomb, …) as a permanent failure.
 */
export function mediaTask<P>(
  kind: TaskKind<P>,
  settings: TaskSettings,
  backoffMs: number,
  parts: {
    handler: (payload: P, ctx: TaskContext) => Promise<void>;
    onRetry: (tx: Queryable, task: ClaimedTask, error: ErrorRecord) => Promise<void>;
    onFinalFailure: (tx: Queryable, task: ClaimedTask, error: ErrorRecord) => Promise<void>;
  },
): TaskKindDefinition<P> {
  return {
    kind,
    timeoutMs: settings.download.timeoutMs + settings.media.decodeTimeoutMs + 30_000,
    backoff: { baseMs: backoffMs, capMs: 10 * 60_000 },
    async handler(payload, ctx) {
      try {
        await parts.handler(payload, ctx);
      } catch (err) {
        // A media thread that died may have died of another call's deadline (threads run
        // two calls): try again. A hostile input that kills it every time runs out of attempts.
        if (err instanceof MediaError && err.code === 'processing_crashed') {
          throw retryableError(err.code, err.message, { cause: err });
        }
        if (err instanceof MediaError) throw permanentError(err.code, err.message, err);
        // The bucket is down or refuses us: not the image's fault, and no attempt is used up.
        if (err instanceof StorageUnavailableError) throw outageError(err.code, err.message, err);
        throw err;
      }
    },
    onRetry: parts.onRetry,
    onFinalFailure: parts.onFinalFailure,
  };
}

/** Downloads through the SSRF guard (following og:image) and stores the bytes under `key`. */
export async function downloadAndStore(
  deps: { fetcher: SafeFetcher; storage: BlobStore; media: MediaPool },
  settings: TaskSettings,
  url: string,
  key: string,
  signal: AbortSignal,
): Promise<{ download: Downloaded; stored: PutResult }> {
  const download = await downloadImage(deps.fetcher, deps.media, url, settings.download, signal);
  const stored = await deps.storage.putBuffer(key, download.bytes);
  return { download, stored };
}

/** The attempts a final failure reports: a lease that expired on the last attempt counts once. */
export function attemptsOf(task: ClaimedTask): number {
  return Math.min(task.attempts, task.max_attempts);
}
