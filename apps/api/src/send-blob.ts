import { BlobNotFoundError, type BlobStore } from '@imgkit/storage';
import type { Response } from 'express';
import { problems } from './problem.ts';

/** Streams a stored blob with its length and the given headers; a missing blob is a 404 problem. */
export async function sendBlob(
  res: Response,
  storage: BlobStore,
  key: string,
  headers: Record<string, string>,
  what: string,
): Promise<void> {
  let blob: Awaited<ReturnType<BlobStore['get']>>;
  try {
    blob = await storage.get(key);
  } catch (err) {
    if (err instanceof BlobNotFoundError) throw problems.notFound(`The ${what} is missing from storage.`);
    throw err;
  }
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('Content-Length', String(blob.byteSize));
  blob.stream.on('error', () => res.destroy());
  blob.stream.pipe(res);
}

/** If-None-Match against a strong ETag (also matching its weak form and `*`). */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((t) => {
    const tag = t.trim();
    return tag === '*' || tag === etag || tag === `W/${etag}`;
  });
}
