/**
 * Runs in a worker thread of the media pool: everything that parses or decodes untrusted
 * bytes. A result (or a MediaError, as a value: errors lose their class crossing threads)
 * goes back to the caller. A thread whose Object.prototype was changed exits at once, so it
 * is replaced and never reused.
 */

import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { threadId } from 'node:worker_threads';
import type { Extracted, IntakeRules } from '@imgkit/media';
import {
  findOgImage,
  MediaError,
  type MediaLimits,
  type Rendered,
  sniff,
  type TransformSpec,
} from '@imgkit/media/core';
import { transformImage } from '@imgkit/media/transform';
import { workerData } from 'piscina';
import sharp, { type Metadata } from 'sharp';
import { BUDGET_SLOTS, CALL_GIVEN_UP, PixelBudget } from './budget.ts';

export type Outcome<T> = { ok: true; value: T } | { ok: false; code: MediaError['code']; message: string };

// Decoded pixels live in Buffers outside the JS heap, freed only when a GC collects their
// handles — which a thread with a small heap may not run for a long while, so RSS kept the
// last large decode of every thread. A full GC after a large decode gives it back at once
// (measured: 4 × 100 Mpx at once, peak RSS 1.89 → 1.67 GB); after every call it would cost
// a third of thumbnail throughput, hence the threshold.
const GC_AFTER_PIXELS = 50_000_000;
v8.setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;
let collectAfterCall = false;

let baseline = fingerprint();

// Extraction's modules are loaded on the first call that needs them: the api's threads mostly
// render and would carry them for nothing. Trusted code, so the prototype fingerprint is taken
// again once it is loaded (before any input is parsed).
let extractionModule: Promise<typeof import('@imgkit/media/extract')> | undefined;
function extraction(): Promise<typeof import('@imgkit/media/extract')> {
  extractionModule ??= import('@imgkit/media/extract').then((m) => {
    baseline = fingerprint();
    return m;
  });
  return extractionModule;
}
const shared = workerData as {
  budgetBuffer: SharedArrayBuffer;
  callThreadsBuffer: SharedArrayBuffer;
  budgetTotal: number;
  maxInputPixels: number;
  libvipsCacheMb: number;
};
// libvips keeps recent operations and their images for reuse (sharp's default: 50 MB, 100
// operations, 20 files). Our inputs are nearly all distinct, so it held memory (~35 MB of the
// api's peak RSS in bench/thumbs) and saved no measurable time. The cache is process-wide;
// every thread sets the same value.
sharp.cache(shared.libvipsCacheMb > 0 ? { memory: shared.libvipsCacheMb, files: 20, items: 100 } : false);
const budget = new PixelBudget(shared.budgetTotal, shared.budgetBuffer);
// Which thread runs each call (see MediaPool.giveUp): a call is marked with this thread's id as
// it starts here, unless the pool has already given it up.
const callThreads = new Int32Array(shared.callThreadsBuffer);

/** Runs a decode once its pixels fit the process-wide budget (read from the header first). */
async function admitted<T>(
  input: Buffer | { path: string },
  slot: number | undefined,
  fn: (header: Metadata | undefined) => Promise<T>,
): Promise<T> {
  const header = await headerOf(input);
  const pixels = header ? pixelsIn(header) : 0;
  // Recorded under the call's slot: if this thread is stopped mid-call, the pool gives it back.
  const release = await budget.acquire(Math.min(pixels, shared.maxInputPixels), slot);
  try {
    return await fn(header);
  } finally {
    release();
    if (pixels >= GC_AFTER_PIXELS) collectAfterCall = true;
  }
}

function fingerprint(): string {
  return [
    Object.getOwnPropertyNames(Object.prototype).sort().join(),
    Object.getOwnPropertyNames(Object).sort().join(),
    Object.getOwnPropertyNames(Array.prototype).sort().join(),
  ].join('|');
}

async function guarded<T>(slot: number | undefined, fn: () => Promise<T>): Promise<Outcome<T>> {
  if (
    slot !== undefined &&
    Atomics.compareExchange(callThreads, slot % BUDGET_SLOTS, 0, threadId) === CALL_GIVEN_UP
  ) {
    return { ok: false, code: 'processing_timeout', message: 'the call was given up before it started' };
  }
  let outcome: Outcome<T>;
  try {
    outcome = { ok: true, value: await fn() };
  } catch (err) {
    if (!(err instanceof MediaError)) throw err;
    outcome = { ok: false, code: err.code, message: err.message };
  }
  if (fingerprint() !== baseline) process.exit(70); // polluted: this thread must not serve again
  if (collectAfterCall) {
    collectAfterCall = false;
    collect();
  }
  return outcome;
}

type Input = Uint8Array | { path: string };
const asInput = (i: Input): Buffer | { path: string } =>
  i instanceof Uint8Array ? Buffer.from(i.buffer, i.byteOffset, i.byteLength) : i;

async function headerOf(input: Buffer | { path: string }): Promise<Metadata | undefined> {
  try {
    return await sharp(Buffer.isBuffer(input) ? input : input.path, {
      failOn: 'none',
      limitInputPixels: false,
    }).metadata();
  } catch {
    return undefined;
  }
}

/** Pixels the decode would allocate (all frames). */
function pixelsIn(m: Metadata): number {
  return (m.width ?? 0) * (m.pageHeight ?? m.height ?? 0) * Math.max(1, m.pages ?? 1);
}

export interface ProcessRequest {
  bytes: Uint8Array;
  limits: MediaLimits;
  metadata: boolean;
  /** The account's intake rules: a refused image fails with rejected_by_rule before decoding. */
  intake?: IntakeRules;
  /** Presets to render from the same bytes: name and width (fit inside, JPEG). */
  variants: { name: string; width: number }[];
  /** The call's slot in the pixel budget (set by the pool). */
  budgetSlot?: number;
}

export interface Processed {
  extracted: Extracted;
  variants: { name: string; rendered: Rendered }[];
}

export function processImage(req: ProcessRequest): Promise<Outcome<Processed>> {
  return guarded(req.budgetSlot, async () => {
    const bytes = asInput(req.bytes) as Buffer;
    return admitted(bytes, req.budgetSlot, async () => {
      const { extractImage } = await extraction();
      const extracted = await extractImage(bytes, req.limits, { metadata: req.metadata, intake: req.intake });
      const variants: Processed['variants'] = [];
      if (extracted.format.decodable) {
        for (const v of req.variants) {
          const spec = { operation: 'thumbnail' as const, width: v.width, format: 'jpeg' as const };
          variants.push({ name: v.name, rendered: await transformImage(bytes, spec, req.limits) });
        }
      }
      return { extracted, variants };
    });
  });
}

export function transform(req: {
  input: Input;
  spec: TransformSpec;
  limits: MediaLimits;
  budgetSlot?: number;
}): Promise<Outcome<Rendered>> {
  return guarded(req.budgetSlot, () => {
    const spec = req.spec.watermark?.image
      ? {
          ...req.spec,
          watermark: { ...req.spec.watermark, image: asInput(req.spec.watermark.image) as Buffer },
        }
      : req.spec;
    const input = asInput(req.input);
    return admitted(input, req.budgetSlot, (header) =>
      transformImage(input, spec, req.limits, header && { header }),
    );
  });
}

/** Is a downloaded body a web page, and which image does it advertise? */
export function inspect(req: {
  bytes: Uint8Array;
  pageUrl: string;
  /** The response's Content-Type said HTML; the bytes may say so too. */
  declaredHtml: boolean;
  budgetSlot?: number;
}): Promise<Outcome<{ html: boolean; ogImage?: string }>> {
  return guarded(req.budgetSlot, async () => {
    const bytes = asInput(req.bytes) as Buffer;
    if (!req.declaredHtml && sniff(bytes).kind !== 'html') return { html: false };
    return { html: true, ogImage: findOgImage(bytes.toString('utf8'), req.pageUrl) };
  });
}
