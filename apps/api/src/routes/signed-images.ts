import { createReadStream } from 'node:fs';
import type { Pool } from '@imgkit/db';
import { isId } from '@imgkit/ids';
import { getImage, getImageById } from '@imgkit/images';
import { MediaError, type Rendered, type TransformSpec } from '@imgkit/media';
import type { BlobStore, DiskCache } from '@imgkit/storage';
import { negotiateFormat, renderingId, signPath, type UrlOptions, verifyPath } from '@imgkit/urls';
import { type Request, type Response, Router } from 'express';
import { principalOf } from '../middleware/auth.ts';
import { Problem, problems } from '../problem.ts';
import { UrlsBody } from '../schemas/signed-urls.ts';
import { fieldErrors } from '../schemas/zod.ts';

export interface SignedImagesDeps {
  pool: Pool;
  storage: BlobStore;
  cache: DiskCache;
  /** The current key id and key, plus older keys still accepted. */
  signingKeyId: string;
  signingKeys: Record<string, string>;
  maxOutputSide: number;
  /** transformImage, injectable so tests can count decodes. */
  render: (input: Buffer | { path: string }, spec: TransformSpec) => Promise<Rendered>;
}

interface KnownImage {
  checksum: string;
  storageKey: string;
  until: number;
}

const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * GET /i/<signature>/<options>/<image_id>.<ext>: thumbnails on the fly for a
 * CDN or nginx to cache. The signature and expiry are checked before any
 * storage or decode; the ETag is known before rendering; renders are cached on
 * local disk and concurrent misses of one rendering share one render.
 */
export function signedImagesRouter(deps: SignedImagesDeps): { publicRouter: Router; apiRouter: Router } {
  const router = Router();
  const apiRouter = Router();
  const inFlight = new Map<string, Promise<Rendered>>();
  // A completed image's checksum and original never change, so cache hits need no query;
  // the short TTL bounds how long a deleted image's renderings are still served here.
  const known = new Map<string, KnownImage>();
  async function lookup(imageId: string): Promise<KnownImage | undefined> {
    const hit = known.get(imageId);
    if (hit && hit.until > Date.now()) return hit;
    const image = await getImageById(deps.pool, imageId);
    if (image?.status !== 'completed' || !image.storage_key || !image.checksum) return undefined;
    if (known.size >= 50_000) known.clear();
    const entry = { checksum: image.checksum, storageKey: image.storage_key, until: Date.now() + 30_000 };
    known.set(imageId, entry);
    return entry;
  }

  router.get('/i/:signature/:options/:file', async (req, res) => {
    const verified = verifyPath(deps.signingKeys, req.params.signature, req.params.options, req.params.file);
    if (!verified.ok) {
      throw verified.status === 410
        ? new Problem(410, 'url_expired', 'Gone', verified.reason)
        : new Problem(403, 'bad_signature', 'Forbidden', verified.reason);
    }
    const { options, imageId } = verified;
    // f:auto: negotiated per request; the extension is the fallback. Caches must key on Accept.
    const format =
      options.format === 'auto' ? negotiateFormat(req.get('Accept'), verified.format) : verified.format;
    if (options.format === 'auto') res.setHeader('Vary', 'Accept');
    for (const [field, v] of [
      ['w', options.width],
      ['h', options.height],
    ] as const) {
      if (v !== undefined && v > deps.maxOutputSide) {
        throw problems.badRequest('output_too_large', `${field} must be at most ${deps.maxOutputSide}`);
      }
    }
    const image = await lookup(imageId);
    if (!image) throw problems.notFound('No such image, or it is not processed yet.');
    const id = renderingId(image.checksum, options, format);
    const etag = `"${id}"`;
    res.setHeader('ETag', etag);
    // An expiring URL may be cached only until it expires; a permanent one for good.
    res.setHeader(
      'Cache-Control',
      options.expires === undefined
        ? IMMUTABLE
        : `public, max-age=${Math.max(0, options.expires - Math.floor(Date.now() / 1000))}`,
    );
    if (req.get('If-None-Match') === etag) {
      res.status(304).end();
      return;
    }
    const cached = deps.cache.get(id);
    if (cached) {
      res.setHeader('Content-Type', `image/${format}`);
      res.setHeader('Content-Length', String(cached.size));
      res.setHeader('X-Cache', 'HIT');
      const stream = createReadStream(cached.path);
      stream.on('error', () => {
        deps.cache.forget(id);
        res.destroy();
      });
      stream.pipe(res);
      return;
    }
    let pending = inFlight.get(id);
    if (!pending) {
      pending = renderOnce(image.storageKey, options, format).finally(() => inFlight.delete(id));
      inFlight.set(id, pending);
      pending.then((r) => deps.cache.put(id, r.data)).catch(() => undefined);
    }
    const rendered = await pending;
    res.setHeader('Content-Type', rendered.mime);
    res.setHeader('Content-Length', String(rendered.data.length));
    res.setHeader('X-Cache', 'MISS');
    res.end(rendered.data);
  });

  async function renderOnce(
    storageKey: string,
    o: UrlOptions,
    format: TransformSpec['format'],
  ): Promise<Rendered> {
    const local = deps.storage.localPath?.(storageKey);
    const original = local ? { path: local } : await deps.storage.readBuffer(storageKey);
    const operation =
      o.width || o.height
        ? o.fit === 'cover'
          ? 'cover'
          : o.fit === 'fill'
            ? 'resize'
            : 'thumbnail'
        : 'convert';
    try {
      return await deps.render(original, {
        operation,
        width: o.width,
        height: o.height,
        gravity: o.gravity as TransformSpec['gravity'],
        quality: o.quality,
        format,
      });
    } catch (err) {
      if (err instanceof MediaError && err.code === 'processing_crashed') {
        throw problems.unavailable('The renderer was interrupted; retry.', 1);
      }
      if (err instanceof MediaError) {
        throw err.code === 'image_too_large' ||
          err.code === 'output_too_large' ||
          err.code === 'processing_timeout'
          ? new Problem(422, err.code, 'Unprocessable Content', err.message)
          : problems.badRequest(err.code, err.message);
      }
      throw err;
    }
  }

  apiRouter.post('/v1/images/:id/urls', async (req: Request, res: Response) => {
    const id = String(req.params.id);
    const { accountId } = principalOf(res);
    const image = isId('image', id) ? await getImage(deps.pool, id, accountId) : undefined;
    if (!image) throw problems.notFound(`No image ${JSON.stringify(id)}.`);
    const parsed = UrlsBody.safeParse(req.body);
    if (!parsed.success) throw problems.validation(fieldErrors(parsed.error));
    const key = deps.signingKeys[deps.signingKeyId];
    const now = Math.floor(Date.now() / 1000);
    const urls = parsed.data.urls.map((u, i) => {
      for (const [field, v] of [
        ['width', u.width],
        ['height', u.height],
      ] as const) {
        if (v !== undefined && v > deps.maxOutputSide) {
          throw problems.validation([
            { field: `urls.${i}.${field}`, message: `must be at most ${deps.maxOutputSide}` },
          ]);
        }
      }
      const options: UrlOptions = {
        keyId: deps.signingKeyId,
        width: u.width,
        height: u.height,
        fit: u.fit,
        gravity: u.gravity,
        quality: u.quality,
        expires: u.expires_in ? now + u.expires_in : undefined,
      };
      if (u.format === 'auto') options.format = 'auto';
      const ext = u.format === 'auto' ? fallbackExtension(image.format) : u.format;
      return { url: signPath(key, options, id, ext), expires_at: options.expires ?? null };
    });
    res.json({ image_id: id, urls });
  });

  return { publicRouter: router, apiRouter };
}

/** The extension of an `f:auto` URL: what every decoder reads, keeping transparency and animation. */
function fallbackExtension(format: Record<string, unknown> | null): 'jpg' | 'png' | 'gif' {
  if (format?.animated === true && format.name === 'gif') return 'gif';
  if (format?.has_alpha === true || format?.name === 'png') return 'png';
  return 'jpg';
}
