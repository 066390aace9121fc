import type { Pool } from '@imgkit/db';
import { FetchError } from '@imgkit/fetch';
import { isDegenerateHash, similarImages, similarListJson } from '@imgkit/images';
import { MediaError } from '@imgkit/media/core';
import { type Request, Router } from 'express';
import { principalOf } from '../../middleware/auth.ts';
import { problems } from '../../problem.ts';
import { SearchImages, SearchQuery } from '../../schemas/images.ts';
import { fieldErrors } from '../../schemas/zod.ts';
import { readBodyBuffer } from '../../uploads.ts';

/** What search needs of the process: hashing untrusted bytes (in the media pool) and fetching. */
export interface SearchDeps {
  pool: Pool;
  maxUploadBytes: number;
  /** pHash and dHash of an image, decoded in the media pool; throws MediaError for non-images. */
  hashImage: (bytes: Buffer) => Promise<{ phash: string | null; dhash: string | null }>;
  /** The bytes at a URL, through the SSRF-guarded fetcher with the download limits. */
  fetchImage: (url: string) => Promise<Buffer>;
}

/**
 * POST /v1/images/search: the account's images near a hash or an image, nothing stored. JSON
 * {phash[, dhash]} | {url} | {image_data}, or the image bytes as image/* with the options in
 * the query string.
 */
export function searchImagesRoute(deps: SearchDeps): Router {
  const router = Router();
  router.post('/v1/images/search', async (req, res) => {
    const { accountId } = principalOf(res);
    const { hashes, options } = await queryOf(req);
    const phash = BigInt.asIntN(64, BigInt(`0x${hashes.phash}`));
    const dhash = hashes.dhash === null ? null : BigInt.asIntN(64, BigInt(`0x${hashes.dhash}`));
    const degenerate = isDegenerateHash(phash, dhash);
    const rows = degenerate
      ? []
      : await similarImages(deps.pool, {
          accountId,
          phash: phash.toString(),
          dhash: dhash === null ? null : dhash.toString(),
          hash: options.hash,
          maxDistance: options.max_distance,
          limit: options.limit,
        });
    const list = similarListJson(rows, options.hash, degenerate);
    const query = JSON.stringify({ phash: hashes.phash, dhash: hashes.dhash, hash_degenerate: degenerate });
    res.type('application/json').send(`{"query":${query},${list.slice(1)}`);
  });

  async function queryOf(req: Request) {
    const type = (req.get('Content-Type') ?? '').toLowerCase();
    if (type.startsWith('image/') || type.startsWith('application/octet-stream')) {
      const parsed = SearchQuery.safeParse(req.query);
      if (!parsed.success) throw problems.validation(fieldErrors(parsed.error));
      return { hashes: await hashesOf(await readBodyBuffer(req, deps.maxUploadBytes)), options: parsed.data };
    }
    if (!type.startsWith('application/json')) {
      throw problems.unsupportedMediaType(
        'Send JSON {"phash"|"url"|"image_data": …}, or the image bytes as image/*.',
      );
    }
    const parsed = SearchImages.safeParse(req.body);
    if (!parsed.success) throw problems.validation(fieldErrors(parsed.error));
    const b = parsed.data;
    if (b.phash) {
      if (b.hash !== 'phash' && !b.dhash) {
        throw problems.validation([{ field: 'dhash', message: `is required with hash=${b.hash}` }]);
      }
      return { hashes: { phash: b.phash, dhash: b.dhash ?? null }, options: b };
    }
    const bytes = b.url ? await fetched(b.url) : decodeBase64(b.image_data!);
    if (bytes.length > deps.maxUploadBytes) throw problems.payloadTooLarge(deps.maxUploadBytes);
    return { hashes: await hashesOf(bytes), options: b };
  }

  async function fetched(url: string): Promise<Buffer> {
    try {
      return await deps.fetchImage(url);
    } catch (err) {
      // blocked_address, too_large, timeout, …: the URL's fault, said as the worker says it.
      if (err instanceof FetchError) throw problems.unprocessable(err.code, err.message);
      throw err;
    }
  }

  async function hashesOf(bytes: Buffer): Promise<{ phash: string; dhash: string | null }> {
    let h: { phash: string | null; dhash: string | null };
    try {
      h = await deps.hashImage(bytes);
    } catch (err) {
      // not_an_image, image_too_large, decode_failed, …
      if (err instanceof MediaError) throw problems.unprocessable(err.code, err.message);
      throw err;
    }
    if (!h.phash) throw problems.unprocessable('no_hash', 'The image has no pixels to hash.');
    return { phash: h.phash, dhash: h.dhash };
  }
  return router;
}

function decodeBase64(text: string): Buffer {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    throw problems.validation([{ field: 'image_data', message: 'is not base64' }]);
  }
  return Buffer.from(text, 'base64');
}
