import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signed on-the-fly image URLs: `/i/<signature>/<options>/<image_id>.<ext>`.
 * Options are `name:value` pairs in one canonical order, so one rendering has
 * exactly one URL; `k` names the signing key (keys rotate without breaking old
 * URLs; without it every accepted key is tried), `p` a configured preset, `v` the
 * image's rendition version (bumped by a purge; absent while it is 1) and `exp`
 * an optional expiry in Unix seconds. The signature is
 * base64url(HMAC-SHA256(key, "<options>/<image_id>.<ext>")).
 */
export interface UrlOptions {
  keyId?: string;
  /** A named preset (SIGNED_URLS_PRESETS); explicit options in the URL override its values. */
  preset?: string;
  width?: number;
  height?: number;
  fit?: 'cover' | 'inside' | 'fill';
  gravity?: string;
  quality?: number;
  /** `auto`: the format is negotiated per request from Accept; the extension is the fallback. */
  format?: 'auto';
  /** The image's rendition version when the URL was made (1 when absent). */
  version?: number;
  expires?: number;
}

/** What a preset sets: the output options, and the extension URLs made for it get. */
export interface UrlPreset {
  width?: number;
  height?: number;
  fit?: 'cover' | 'inside' | 'fill';
  gravity?: string;
  quality?: number;
  /** `auto` negotiates from Accept; an extension is only the default for URLs the API makes. */
  format?: 'auto' | keyof typeof EXTENSIONS;
}

export const PRESET_NAME = /^[a-z0-9_-]{1,32}$/;

export const EXTENSIONS: Record<string, 'jpeg' | 'png' | 'webp' | 'avif' | 'gif'> = {
  jpg: 'jpeg',
  jpeg: 'jpeg',
  png: 'png',
  webp: 'webp',
  avif: 'avif',
  gif: 'gif',
};

const ORDER = ['k', 'p', 'w', 'h', 'fit', 'g', 'q', 'f', 'v', 'exp'] as const;

export function serializeOptions(o: UrlOptions): string {
  const values: Record<string, string | number | undefined> = {
    k: o.keyId,
    p: o.preset,
    w: o.width,
    h: o.height,
    fit: o.fit,
    g: o.gravity,
    q: o.quality,
    f: o.format,
    v: o.version,
    exp: o.expires,
  };
  return ORDER.filter((k) => values[k] !== undefined)
    .map((k) => `${k}:${values[k]}`)
    .join(',');
}

/** Parses options; undefined unless they are exactly in canonical form. */
export function parseOptions(text: string): UrlOptions | undefined {
  const o: Partial<UrlOptions> = {};
  for (const part of text.split(',')) {
    const i = part.indexOf(':');
    if (i <= 0) return undefined;
    const [k, v] = [part.slice(0, i), part.slice(i + 1)];
    const int = /^[1-9]\d{0,9}$/.test(v) ? Number(v) : undefined;
    if (k === 'k' && /^[A-Za-z0-9]{1,16}$/.test(v)) o.keyId = v;
    else if (k === 'p' && PRESET_NAME.test(v)) o.preset = v;
    else if (k === 'w' && int) o.width = int;
    else if (k === 'h' && int) o.height = int;
    else if (k === 'fit' && (v === 'cover' || v === 'inside' || v === 'fill')) o.fit = v;
    else if (k === 'g' && /^[a-z]{1,16}$/.test(v)) o.gravity = v;
    else if (k === 'q' && int && int <= 100) o.quality = int;
    else if (k === 'f' && v === 'auto') o.format = 'auto';
    else if (k === 'v' && int && int > 1) o.version = int;
    else if (k === 'exp' && int) o.expires = int;
    else return undefined;
  }
  const options = o as UrlOptions;
  return serializeOptions(options) === text ? options : undefined;
}

function mac(key: string, signed: string): string {
  return createHmac('sha256', key).update(signed).digest('base64url');
}

export function signPath(key: string, options: UrlOptions, imageId: string, ext: string): string {
  const opts = serializeOptions(options);
  return `/i/${mac(key, `${opts}/${imageId}.${ext}`)}/${opts}/${imageId}.${ext}`;
}

export type Verified =
  | { ok: true; options: UrlOptions; imageId: string; ext: string; format: (typeof EXTENSIONS)[string] }
  | { ok: false; status: 403 | 410; reason: string };

/** Signature first, then expiry: nothing else about the request is trusted before that. */
export function verifyPath(
  keys: Record<string, string>,
  signature: string,
  optionsText: string,
  file: string,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): Verified {
  const m = /^(img_[0-9A-Za-z]{27})\.([a-z]{3,4})$/.exec(file);
  const options = parseOptions(optionsText);
  if (!m || !options || !Object.hasOwn(EXTENSIONS, m[2]))
    return { ok: false, status: 403, reason: 'malformed signed URL' };
  // With `k` the named key only; without it each accepted key (a handful at most).
  const candidates =
    options.keyId === undefined
      ? Object.values(keys)
      : Object.hasOwn(keys, options.keyId)
        ? [keys[options.keyId]]
        : [];
  if (candidates.length === 0) return { ok: false, status: 403, reason: 'unknown signing key' };
  const got = Buffer.from(signature);
  const matches = candidates.some((key) => {
    const expected = Buffer.from(mac(key, `${optionsText}/${file}`));
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
  if (!matches) return { ok: false, status: 403, reason: 'bad signature' };
  if (options.expires !== undefined && options.expires < nowSeconds) {
    return { ok: false, status: 410, reason: 'the URL has expired' };
  }
  return { ok: true, options, imageId: m[1], ext: m[2], format: EXTENSIONS[m[2]] };
}

/**
 * Names one rendering: the original's checksum, the output options (a preset already
 * expanded into them), the format and the image's current rendition version — not the key
 * id, expiry or the version the URL was made at. Used as the strong ETag and the cache key,
 * so it is known before anything is decoded; a purge changes it for every URL of the image.
 */
export function renderingId(
  checksum: string,
  options: UrlOptions,
  format: string,
  renditionVersion = 1,
): string {
  const { keyId: _k, expires: _e, preset: _p, version: _v, ...output } = options;
  return createHash('sha256')
    .update(`${checksum}|${serializeOptions(output)}|${format}|${renditionVersion}`)
    .digest('hex')
    .slice(0, 40);
}

/** The options a URL renders with: its preset's values, then the URL's own on top. */
export function resolvePreset(options: UrlOptions, preset: UrlPreset): UrlOptions {
  const { format, ...output } = preset;
  const resolved: UrlOptions = { ...output, ...(format === 'auto' ? { format } : {}) };
  for (const [k, v] of Object.entries(options)) {
    if (v !== undefined) (resolved as Record<string, unknown>)[k] = v;
  }
  return resolved;
}

/** Options a presets-only server accepts in a URL besides `p`: who signed, when, which version. */
export function onlyPresetOptions(options: UrlOptions): boolean {
  const { keyId: _k, expires: _e, version: _v, preset, ...rest } = options;
  return preset !== undefined && Object.values(rest).every((v) => v === undefined);
}

type Format = (typeof EXTENSIONS)[string];

/**
 * The output of an `f:auto` URL for a request's Accept header: AVIF when the client names it,
 * else WebP when it names it, else the fallback (the URL's extension: the original's family).
 * Wildcards do not count: browsers name the modern formats they decode, and `*\/*` from curl
 * or an old client must get something every decoder reads. One linear pass over the header.
 */
export function negotiateFormat(accept: string | undefined, fallback: Format): Format {
  let avif = false;
  let webp = false;
  for (const part of (accept ?? '').slice(0, 2048).split(',')) {
    const [type, ...params] = part.split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q !== undefined && !(Number(q.slice(2)) > 0)) continue;
    const t = type.trim().toLowerCase();
    if (t === 'image/avif') avif = true;
    else if (t === 'image/webp') webp = true;
  }
  return avif ? 'avif' : webp ? 'webp' : fallback;
}

/** The class of an Accept header that decides an `f:auto` rendering (for cache keys). */
export function acceptClass(accept: string | undefined): 'avif' | 'webp' | 'other' {
  const f = negotiateFormat(accept, 'jpeg');
  return f === 'avif' || f === 'webp' ? f : 'other';
}
