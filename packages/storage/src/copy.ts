import type { BlobStore } from './blob-store.ts';

export interface CopyProgress {
  /** Blobs in the source. */
  total: number;
  totalBytes: number;
  copied: number;
  copiedBytes: number;
  /** Already in the target with the same size (an earlier, interrupted run copied them). */
  skipped: number;
}

/**
 * Copies every blob of `from` into `to`, `concurrency` at a time, streaming each one.
 * Resumable: a blob already in the target with the same size is skipped, so running it again
 * after an interruption copies only what is missing. (S3 makes an object visible only when
 * its upload completes, so a blob cut off mid-copy is absent, never short.)
 */
export async function copyBlobs(
  from: BlobStore,
  to: BlobStore,
  options: { concurrency?: number; onProgress?: (p: CopyProgress) => void } = {},
): Promise<CopyProgress> {
  const sources: { key: string; byteSize: number }[] = [];
  for await (const blob of from.list()) sources.push(blob);
  const present = new Map<string, number>();
  for await (const blob of to.list()) present.set(blob.key, blob.byteSize);
  const progress: CopyProgress = {
    total: sources.length,
    totalBytes: sources.reduce((n, b) => n + b.byteSize, 0),
    copied: 0,
    copiedBytes: 0,
    skipped: 0,
  };
  options.onProgress?.({ ...progress });
  let next = 0;
  const lane = async () => {
    while (next < sources.length) {
      const blob = sources[next++];
      if (present.get(blob.key) === blob.byteSize) {
        progress.skipped++;
      } else {
        const { stream } = await from.get(blob.key);
        const put = await to.put(blob.key, stream);
        if (put.byteSize !== blob.byteSize) {
          throw new Error(`${blob.key}: copied ${put.byteSize} bytes, expected ${blob.byteSize}`);
        }
        progress.copied++;
        progress.copiedBytes += blob.byteSize;
      }
      options.onProgress?.({ ...progress });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 8) }, lane));
  return progress;
}
