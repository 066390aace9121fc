import type { Pool } from '@imgkit/db';
import { variantKey } from '@imgkit/images';
import type { BlobStore } from '@imgkit/storage';
import { Router } from 'express';
import { problems } from '../../problem.ts';
import { etagMatches, sendBlob } from '../../send-blob.ts';
import { findImage } from './find.ts';

/** The stored original and the rendered variants of an image. */
export function imageBlobRoutes(deps: {
  pool: Pool;
  storage: BlobStore;
  originals: { delivery: 'proxy' | 'redirect'; redirectTtlSeconds: number };
}): Router {
  const router = Router();

  router.get('/v1/images/:id/original', async (req, res) => {
    const row = await findImage(deps.pool, req, res);
    if (!row.storage_key || !row.checksum) {
      throw problems.conflict(
        'original_not_ready',
        `The image is ${row.status}; its original is not stored yet.`,
      );
    }
    const etag = `"${row.checksum}"`;
    if (deps.originals.delivery === 'redirect' && deps.storage.presignGet) {
      // The bytes come from the bucket, not through this process. The URL expires, so the
      // redirect itself must not be cached longer than it.
      const url = await deps.storage.presignGet(row.storage_key, {
        expiresInSeconds: deps.originals.redirectTtlSeconds,
        contentType: row.content_type ?? undefined,
        filename: row.filename ?? undefined,
      });
      res.setHeader('Cache-Control', 'private, no-store');
      res.redirect(302, url);
      return;
    }
    res.setHeader('ETag', etag);
    res.setHeader('Cache-Control', 'private, max-age=31536000, immutable');
    if (etagMatches(req.get('If-None-Match'), etag)) {
      res.status(304).end();
      return;
    }
    await sendBlob(
      res,
      deps.storage,
      row.storage_key,
      {
        'Content-Type': row.content_type ?? 'application/octet-stream',
        ...(row.filename ? { 'Content-Disposition': inlineDisposition(row.filename) } : {}),
      },
      'original',
    );
  });

  router.get('/v1/images/:id/variants/:name', async (req, res) => {
    const row = await findImage(deps.pool, req, res);
    const name = String(req.params.name);
    const variant = Object.hasOwn(row.variants, name)
      ? (row.variants[name] as { format: string })
      : undefined;
    if (!variant) throw problems.notFound(`The image has no variant ${JSON.stringify(name)}.`);
    await sendBlob(
      res,
      deps.storage,
      variantKey(row.account_id, row.id, name),
      { 'Content-Type': `image/${variant.format}`, 'Cache-Control': 'private, max-age=31536000, immutable' },
      'variant',
    );
  });

  return router;
}

function inlineDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `inline; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}
