import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Pool } from '@imgkit/db';
import { isId } from '@imgkit/ids';
import { getImage, getImageById, purgeRenditions, type RenditionHandlers } from '@imgkit/images';
import { MediaError, type Rendered, type TransformSpec } from '@imgkit/media/core';
import type { BlobStore, DiskCache } from '@imgkit/storage';
import {
  negotiateFormat,
  onlyPresetOptions,
  renderingId,
  resolvePreset,
  signPath,
  type UrlOptions,
  type UrlPreset,
  verifyPath,
} from '@imgkit/urls';
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
  render: RenderFn;
  /** Named presets (`p:name`), and whether URLs may carry anything but a preset. */
  presets: Readonly<Record<string, UrlPreset>>;
  presetsOnly: boolean;
  /** X-Accel-Expires: how long the nginx in front keeps a rendering before revalidating. */
  proxyCacheSeconds: number;
  /** Starts hearing of purges and deletions made through any api process (PostgreSQL LISTEN). */
  listen?: (handlers: RenditionHandlers) => void;
}

/**
 * Renders in the media pool; with `saveTo` the rendering thread also writes the result to the
 * disk cache's files (`saved` says whether it did).
 */
export type RenderFn = (
  input: Buffer | { path: string },
  spec: TransformSpec,
  options?: { saveTo?: { tmp: string; file: string } },
) => Promise<Rendered & { saved?: boolean }>;

interface KnownImage {
  checksum: string;
  storageKey: string;
  version: number;
  until: number;
}

/**
 * Disk-cache keys start with a digest of the image id, so one image's renderings can be
 * dropped (purge, delete) without an index of them.
 */
function imageKeyPrefix(imageId: string): string {
  return createHash('sha256').update(imageId).digest('hex').slice(0, 16);
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
  const inFlight = new Map<string, Promise<Rendered & { saved?: boolean }>>();
  // A completed image's checksum and original never change, so cache hits need no query. A
  // purge or deletion through any process is heard here (LISTEN) and forgotten at once; the
  // short TTL bounds how long one whose notification was lost (a dropped connection) is served.
  const known = new Map<string, KnownImage>();
  async function lookup(imageId: string, fresh = false): Promise<KnownImage | undefined> {
    const hit = known.get(imageId);
    if (hit && hit.until > Date.now() && !fresh) return hit;
    const image = await getImageById(deps.pool, imageId);
    if (image?.status !== 'completed' || !image.storage_key || !image.checksum) return undefined;
    if (known.size >= 50_000) known.clear();
    const entry = {
      checksum: image.checksum,
      storageKey: image.storage_key,
      version: image.rendition_version,
      until: Date.now() + 30_000,
    };
    known.set(imageId, entry);
    return entry;
  }
  /** Forgets the image and drops its renderings from this process's disk cache. */
  async function dropImage(imageId: string): Promise<number> {
    known.delete(imageId);
    return deps.cache.removePrefix(imageKeyPrefix(imageId));
  }
  deps.listen?.({
    changed: (imageId) => void dropImage(imageId).catch(() => undefined),
    resync: () => known.clear(),
  });

  router.get('/i/:signature/:options/:file', async (req, res) => {
    const verified = verifyPath(deps.signingKeys, req.params.signature, req.params.options, req.params.file);
    if (!verified.ok) {
      throw verified.status === 410
        ? new Problem(410, 'url_expired', 'Gone', verified.reason)
        : new Problem(403, 'bad_signature', 'Forbidden', verified.reason);
    }
    const { imageId } = verified;
    const options = withPreset(verified.options);
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
    let image = await lookup(imageId);
    // A URL from a newer version than we remember: another process purged; look again.
    if (image && (options.version ?? 1) > image.version) image = await lookup(imageId, true);
    if (!image || (options.version ?? 1) > image.version) {
      throw problems.notFound('No such image, or it is not processed yet.');
    }
    // URLs made before a purge keep working: every URL renders at the current version (new
    // ETag, new cache entry); the version in new URLs is what gets past caches that never
    // revalidate (browsers, CDNs holding `immutable`).
    const id = renderingId(image.checksum, options, format, image.version);
    const cacheKey = imageKeyPrefix(imageId) + id;
    const etag = `"${id}"`;
    res.setHeader('ETag', etag);
    // A CDN purges one image's renderings by this tag (Cloudflare Cache-Tag, Fastly Surrogate-Key).
    res.setHeader('Cache-Tag', imageId);
    res.setHeader('Surrogate-Key', imageId);
    // An expiring URL may be cached only until it expires; a permanent one for good.
    const remaining =
      options.expires === undefined
        ? undefined
        : Math.max(0, options.expires - Math.floor(Date.now() / 1000));
    res.setHeader('Cache-Control', remaining === undefined ? IMMUTABLE : `public, max-age=${remaining}`);
    // nginx keeps it this long, then revalidates (a 304 costs no render): a purge reaches it.
    res.setHeader('X-Accel-Expires', String(Math.min(deps.proxyCacheSeconds, remaining ?? Infinity)));
    if (req.get('If-None-Match') === etag) {
      res.status(304).end();
      return;
    }
    const cached = deps.cache.get(cacheKey);
    if (cached) {
      res.setHeader('Content-Type', `image/${format}`);
      res.setHeader('Content-Length', String(cached.size));
      res.setHeader('X-Cache', 'HIT');
      if (cached.data) {
        res.end(cached.data);
        return;
      }
      // On disk only (after a restart, or pushed out of memory): read once, kept in memory if small.
      const data = await deps.cache.readSmall(cacheKey, cached);
      if (data) {
        res.end(data);
        return;
      }
      const stream = createReadStream(cached.path);
      stream.on('error', () => {
        deps.cache.forget(cacheKey);
        res.destroy();
      });
      stream.pipe(res);
      return;
    }
    let pending = inFlight.get(cacheKey);
    if (!pending) {
      const saveTo = deps.cache.filesFor(cacheKey);
      pending = renderOnce(image.storageKey, options, format, saveTo).finally(() =>
        inFlight.delete(cacheKey),
      );
      inFlight.set(cacheKey, pending);
      // The rendering thread wrote the file (no thread-pool round trips here); if it could not,
      // one more try from here, whose failure only costs a render next time.
      pending
        .then((r) => (r.saved ? deps.cache.adopt(cacheKey, r.data) : deps.cache.put(cacheKey, r.data)))
        .catch(() => undefined);
    }
    const rendered = await pending;
    res.setHeader('Content-Type', rendered.mime);
    res.setHeader('Content-Length', String(rendered.data.length));
    res.setHeader('X-Cache', 'MISS');
    res.end(rendered.data);
  });

  /** The URL's options with its preset expanded; what presets-only mode refuses. */
  function withPreset(options: UrlOptions): UrlOptions {
    if (deps.presetsOnly && !onlyPresetOptions(options)) {
      throw problems.badRequest(
        'presets_only',
        'This server renders named presets only (p:<name>); other options are refused.',
      );
    }
    if (options.preset === undefined) return options;
    if (!Object.hasOwn(deps.presets, options.preset)) {
      throw problems.badRequest('unknown_preset', `No preset named ${JSON.stringify(options.preset)}.`);
    }
    return resolvePreset(options, deps.presets[options.preset]);
  }

  async function renderOnce(
    storageKey: string,
    o: UrlOptions,
    format: TransformSpec['format'],
    saveTo: { tmp: string; file: string } | undefined,
  ): Promise<Rendered & { saved?: boolean }> {
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
      return await deps.render(
        original,
        {
          operation,
          width: o.width,
          height: o.height,
          gravity: o.gravity as TransformSpec['gravity'],
          quality: o.quality,
          format,
        },
        { saveTo },
      );
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
      const invalid = (field: string, message: string) =>
        problems.validation([{ field: `urls.${i}.${field}`, message }]);
      for (const [field, v] of [
        ['width', u.width],
        ['height', u.height],
      ] as const) {
        if (v !== undefined && v > deps.maxOutputSide) {
          throw invalid(field, `must be at most ${deps.maxOutputSide}`);
        }
      }
      const preset = u.preset === undefined ? undefined : deps.presets[u.preset];
      if (u.preset !== undefined && (!preset || !Object.hasOwn(deps.presets, u.preset))) {
        throw invalid('preset', `unknown preset (known: ${Object.keys(deps.presets).join(', ')})`);
      }
      const options: UrlOptions = {
        keyId: deps.signingKeyId,
        preset: u.preset,
        width: u.width,
        height: u.height,
        fit: u.fit,
        gravity: u.gravity,
        quality: u.quality,
        version: image.rendition_version > 1 ? image.rendition_version : undefined,
        expires: u.expires_in ? now + u.expires_in : undefined,
      };
      // The extension: as asked, else the preset's, else JPEG; `auto` is negotiated per request.
      const format = u.format ?? preset?.format ?? 'jpg';
      if (u.format === 'auto') options.format = 'auto';
      if (deps.presetsOnly && !onlyPresetOptions(options)) {
        throw invalid(
          u.preset === undefined ? 'preset' : 'format',
          'this server signs named presets only (presets-only mode)',
        );
      }
      const ext = format === 'auto' ? fallbackExtension(image.format) : format;
      return { url: signPath(key, options, id, ext), expires_at: options.expires ?? null };
    });
    res.json({ image_id: id, rendition_version: image.rendition_version, urls });
  });

  apiRouter.get('/v1/presets', (_req, res) => {
    const data = Object.entries(deps.presets).map(([name, p]) => ({ name, ...p }));
    res.json({ object: 'list', presets_only: deps.presetsOnly, data });
  });

  /**
   * Drops the image's renderings from every api process's disk cache (PostgreSQL NOTIFY) and
   * bumps its rendition version: URLs made from now on differ from the old ones.
   */
  apiRouter.post('/v1/images/:id/purge', async (_req, res) => {
    const id = String(_req.params.id);
    const { accountId } = principalOf(res);
    const purged = isId('image', id) ? await purgeRenditions(deps.pool, id, accountId) : undefined;
    if (!purged) throw problems.notFound(`No image ${JSON.stringify(id)}.`);
    // This process at once; the others as the notification arrives (milliseconds).
    await dropImage(id);
    res.json({
      object: 'purge',
      image_id: id,
      rendition_version: purged.rendition_version,
      purged_at: purged.purged_at.toISOString(),
      cache_tag: id,
    });
  });

  return { publicRouter: router, apiRouter };
}

/** The extension of an `f:auto` URL: what every decoder reads, keeping transparency and animation. */
function fallbackExtension(format: Record<string, unknown> | null): 'jpg' | 'png' | 'gif' {
  if (format?.animated === true && format.name === 'gif') return 'gif';
  if (format?.has_alpha === true || format?.name === 'png') return 'png';
  return 'jpg';
}
