import { randomUUID } from 'node:crypto';
import type { Pool } from '@imgkit/db';
import { lightroomPreset } from '@imgkit/media/core';
import { Router } from 'express';
import { problems } from '../../problem.ts';
import { findImage } from './find.ts';

/**
 * GET /v1/images/:id/lightroom-preset: the image's Camera Raw develop settings (XMP `crs:`) as
 * a Lightroom Classic preset file (docs/lightroom.md says what is kept and what is left out).
 */
export function lightroomPresetRoute(deps: { pool: Pool }): Router {
  const router = Router();
  router.get('/v1/images/:id/lightroom-preset', async (req, res) => {
    const image = await findImage(deps.pool, req, res);
    const base = (image.filename ?? image.id).replace(/\.[A-Za-z0-9]{1,5}$/, '');
    // Printable, no quotes or path characters: it is also the download's file name.
    const name = base.replace(/[^\p{L}\p{N} ._()-]/gu, '_').slice(0, 64) || image.id;
    const uuid = randomUUID().replaceAll('-', '').toUpperCase();
    const xmp = lightroomPreset((image.xmp as { crs?: unknown } | null)?.crs, { name, uuid });
    if (!xmp) throw problems.notFound(`Image ${image.id} has no Lightroom develop settings (XMP crs:).`);
    res.setHeader('Content-Type', 'application/rdf+xml; charset=utf-8');
    res.setHeader(
      'Content-Disposition',
      `attachment; filename="${name.replace(/[^\x20-\x7e]/g, '_')}.xmp"; filename*=UTF-8''${encodeURIComponent(name)}.xmp`,
    );
    res.setHeader('Cache-Control', 'private, no-store');
    res.send(xmp);
  });
  return router;
}
