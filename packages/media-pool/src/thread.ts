/**
 * Runs in a worker thread of the media pool: everything that parses or decodes untrusted
 * bytes. A result (or a MediaError, as a value: errors lose their class crossing threads)
 * goes back to the caller. A thread whose Object.prototype was changed exits at once, so it
 * is replaced and never reused.
 */

import { mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
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
import { displayOrientation, transformImage } from '@imgkit/media/transform';
import { workerData } from 'piscina';
import sharp, { type Metadata } from 'sharp';
import { BUDGET_SLOTS, CALL_GIVEN_UP, PixelBudget } from './budget.ts';
import { OriginalReader } from './originals.ts';

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
  readWholeMb: number;
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

/** Runs a decode once its pixels fit the process-wide budget (`header`: the input's, read first). */
async function admitted<T>(
  header: Metadata | undefined,
  slot: number | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  const pixels = header ? pixelsIn(header) : 0;
  // Recorded under the call's slot: if this thread is stopped mid-call, the pool gives it back.
  const release = await budget.acquire(Math.min(pixels, shared.maxInputPixels), slot);
  try {
    return await fn();
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

async function readHeader(source: Buffer | string): Promise<Metadata | undefined> {
  try {
    return await sharp(source, { failOn: 'none', limitInputPixels: false }).metadata();
  } catch {
    return undefined;
  }
}

/**
 * Headers of local files read recently, by path. An original is rendered at many sizes (every
 * thumbnail of a page, a CDN's first requests after an upload), and reading its header costs a
 * pass over its EXIF, ICC and XMP segments and the objects sharp makes of them (~0.8 ms of CPU
 * per render in bench/thumbs). An entry holds only what a render reads (size, frames, EXIF
 * orientation) and is used only while the file's device, inode, size, mtime and ctime are
 * unchanged (its stamp), so a file replaced in place is read again. Headers whose orientation
 * comes from XMP are not kept (rare; the packet would have to be).
 */
const headers = new Map<string, { stamp: string; header: Metadata }>();
const HEADERS_KEPT = 4096;

async function fileHeader(
  file: string,
  stamp: string,
  source: Buffer | string,
): Promise<Metadata | undefined> {
  const hit = headers.get(file);
  if (hit?.stamp === stamp) {
    headers.delete(file); // most recently used last
    headers.set(file, hit);
    return hit.header;
  }
  const header = await readHeader(source);
  headers.delete(file);
  if (!header || displayOrientation(header).fromXmp) return header;
  const { format, width, height, pages, pageHeight, orientation } = header;
  headers.set(file, { stamp, header: { format, width, height, pages, pageHeight, orientation } as Metadata });
  if (headers.size > HEADERS_KEPT) headers.delete(headers.keys().next().value as string);
  return header;
}

/** The header of a file rendered by path (too large to be read whole): one stat, then the cache. */
async function pathHeader(file: string): Promise<Metadata | undefined> {
  try {
    const s = statSync(file, { bigint: true });
    return await fileHeader(file, `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`, file);
  } catch {
    return undefined; // gone: the render reports it
  }
}

// Originals up to MEDIA_READ_WHOLE_MB (16 by default: a 24 MP camera JPEG is 8–12 MB) are read
// whole into buffers this thread keeps while it renders (see originals.ts); larger ones stream
// from the file.
const originals = new OriginalReader(shared.readWholeMb * 1024 * 1024, 10_000);

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
    return admitted(await readHeader(bytes), req.budgetSlot, async () => {
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

/** Where a rendering is saved: written to `tmp`, then renamed to `file` (a disk cache's entry). */
export interface SaveTo {
  tmp: string;
  file: string;
}

export type Saved = Rendered & { saved: boolean };

export function transform(req: {
  input: Input;
  spec: TransformSpec;
  limits: MediaLimits;
  saveTo?: SaveTo;
  budgetSlot?: number;
}): Promise<Outcome<Saved>> {
  return guarded(req.budgetSlot, async () => {
    const spec = req.spec.watermark?.image
      ? {
          ...req.spec,
          watermark: { ...req.spec.watermark, image: asInput(req.spec.watermark.image) as Buffer },
        }
      : req.spec;
    const input = asInput(req.input);
    const original =
      Buffer.isBuffer(input) || shared.readWholeMb === 0 ? undefined : originals.read(input.path);
    try {
      const source = original?.bytes ?? input;
      const header = Buffer.isBuffer(input)
        ? await readHeader(input)
        : original
          ? await fileHeader(input.path, original.stamp, original.bytes)
          : await pathHeader(input.path);
      const out = await admitted(header, req.budgetSlot, () =>
        transformImage(source, spec, req.limits, header && { header }),
      );
      return { ...out, saved: req.saveTo ? save(out.data, req.saveTo) : false };
    } finally {
      // After the render has settled: libvips no longer reads the buffer.
      original?.release();
    }
  });
}

/**
 * Writes a rendering where the disk cache asked, synchronously: this thread's event loop only
 * hands work to libvips, and the asynchronous API's four thread-pool round trips (open, write,
 * close, rename) cost ~0.4 ms more CPU per rendering than the system calls themselves — on the
 * api's main thread, as promises. A slow disk stalls this thread's next hand-offs, not the api.
 * A failure (disk full, directory removed) leaves no file and is only reported: the rendering
 * is still served.
 */
function save(data: Uint8Array, to: SaveTo): boolean {
  try {
    mkdirSync(path.dirname(to.tmp), { recursive: true });
    mkdirSync(path.dirname(to.file), { recursive: true });
    writeFileSync(to.tmp, data);
    renameSync(to.tmp, to.file);
    return true;
  } catch {
    try {
      rmSync(to.tmp, { force: true });
    } catch {
      // Nothing more to do: the cache's start clears its temp directory.
    }
    return false;
  }
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
