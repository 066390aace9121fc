/**
 * Runs in a worker thread of the media pool: everything that parses or decodes untrusted
 * bytes. A result (or a MediaError, as a value: errors lose their class crossing threads)
 * goes back to the caller. A thread whose Object.prototype was changed exits at once, so it
 * is replaced and never reused.
 */
import {
  type Extracted,
  extractImage,
  findOgImage,
  MediaError,
  type MediaLimits,
  type Rendered,
  sniff,
  type TransformSpec,
  transformImage,
} from '@imgkit/media';
import sharp from 'sharp';

export type Outcome<T> = { ok: true; value: T } | { ok: false; code: MediaError['code']; message: string };

const baseline = fingerprint();

function fingerprint(): string {
  return [
    Object.getOwnPropertyNames(Object.prototype).sort().join(),
    Object.getOwnPropertyNames(Object).sort().join(),
    Object.getOwnPropertyNames(Array.prototype).sort().join(),
  ].join('|');
}

async function guarded<T>(fn: () => Promise<T>): Promise<Outcome<T>> {
  let outcome: Outcome<T>;
  try {
    outcome = { ok: true, value: await fn() };
  } catch (err) {
    if (!(err instanceof MediaError)) throw err;
    outcome = { ok: false, code: err.code, message: err.message };
  }
  if (fingerprint() !== baseline) process.exit(70); // polluted: this thread must not serve again
  return outcome;
}

type Input = Uint8Array | { path: string };
const asInput = (i: Input): Buffer | { path: string } =>
  i instanceof Uint8Array ? Buffer.from(i.buffer, i.byteOffset, i.byteLength) : i;

/** Pixels the decode of `input` would allocate (all frames), from the header only; 0 when unreadable. */
export function probe({ input }: { input: Input }): Promise<number> {
  return (async () => {
    try {
      const m = await sharp(asInput(input) as Buffer, { failOn: 'none', limitInputPixels: false }).metadata();
      const frameHeight = m.pageHeight ?? m.height ?? 0;
      return (m.width ?? 0) * frameHeight * Math.max(1, m.pages ?? 1);
    } catch {
      return 0;
    }
  })();
}

export interface ProcessRequest {
  bytes: Uint8Array;
  limits: MediaLimits;
  metadata: boolean;
  /** Presets to render from the same bytes: name and width (fit inside, JPEG). */
  variants: { name: string; width: number }[];
}

export interface Processed {
  extracted: Extracted;
  variants: { name: string; rendered: Rendered }[];
}

export function processImage(req: ProcessRequest): Promise<Outcome<Processed>> {
  return guarded(async () => {
    const bytes = asInput(req.bytes) as Buffer;
    const extracted = await extractImage(bytes, req.limits, { metadata: req.metadata });
    const variants: Processed['variants'] = [];
    if (extracted.format.decodable) {
      for (const v of req.variants) {
        const rendered = await transformImage(
          bytes,
          { operation: 'thumbnail', width: v.width, format: 'jpeg' },
          req.limits,
        );
        variants.push({ name: v.name, rendered });
      }
    }
    return { extracted, variants };
  });
}

export function transform(req: {
  input: Input;
  spec: TransformSpec;
  limits: MediaLimits;
}): Promise<Outcome<Rendered>> {
  return guarded(() => {
    const spec = req.spec.watermark?.image
      ? {
          ...req.spec,
          watermark: { ...req.spec.watermark, image: asInput(req.spec.watermark.image) as Buffer },
        }
      : req.spec;
    return transformImage(asInput(req.input), spec, req.limits);
  });
}

/** Is a downloaded body a web page, and which image does it advertise? */
export function inspect(req: {
  bytes: Uint8Array;
  pageUrl: string;
  /** The response's Content-Type said HTML; the bytes may say so too. */
  declaredHtml: boolean;
}): Promise<Outcome<{ html: boolean; ogImage?: string }>> {
  return guarded(async () => {
    const bytes = asInput(req.bytes) as Buffer;
    if (!req.declaredHtml && sniff(bytes).kind !== 'html') return { html: false };
    return { html: true, ogImage: findOgImage(bytes.toString('utf8'), req.pageUrl) };
  });
}
