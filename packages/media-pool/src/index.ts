import {
  type IntakeRules,
  MediaError,
  type MediaLimits,
  type Rendered,
  type TransformSpec,
} from '@imgkit/media/core';
import { Piscina } from 'piscina';
import { BUDGET_SLOTS, PixelBudget } from './budget.ts';
import type { Outcome, Processed, ProcessRequest } from './thread.ts';

export { PixelBudget } from './budget.ts';
export type { Processed } from './thread.ts';

export interface MediaPoolOptions {
  limits: MediaLimits;
  /** Worker threads (MEDIA_THREADS). */
  threads: number;
  /** V8 old-space limit of each thread, MiB (MEDIA_THREAD_HEAP_MB); pixel buffers live outside it. */
  heapMb: number;
  /** Decoded pixels admitted at once across the process (MEDIA_PIXEL_BUDGET). */
  pixelBudget: number;
  /** Wall-clock deadline of one call (MEDIA_CALL_TIMEOUT_MS): past it the thread is terminated. */
  callTimeoutMs: number;
  /** libvips' operation cache, MiB (LIBVIPS_CACHE_MB); 0 (the default) turns it off. */
  libvipsCacheMb?: number;
}

type Input = Buffer | { path: string };

/**
 * Everything that parses or decodes untrusted bytes, in worker threads (piscina) instead of
 * on the process's event loop. Each call has a wall-clock deadline: a thread past it is
 * terminated and replaced, and the call fails with `processing_timeout`. Threads have heap
 * limits; one that dies (out of memory, a crash, a polluted prototype) is replaced, never
 * reused, and the call fails with `processing_crashed`. A pixel budget admits decodes so
 * that concurrent work stays within a memory bound.
 */
export class MediaPool {
  private readonly piscina: Piscina;
  private readonly budget: PixelBudget;
  private nextSlot = 0;
  private readonly options: MediaPoolOptions;

  constructor(options: MediaPoolOptions) {
    this.options = options;
    this.budget = new PixelBudget(options.pixelBudget);
    this.piscina = new Piscina({
      filename: new URL('./thread.ts', import.meta.url).href,
      // All threads from the start: a thread costs ~250 ms to load its modules, not at a first request.
      minThreads: options.threads,
      maxThreads: options.threads,
      // One call per thread: a deadline terminates the thread, and with it only its own call.
      // (Measured: a thread runs one sharp pipeline at a time anyway; parallelism comes from
      // threads, hence MEDIA_THREADS' default of at least 4, like libuv's thread pool.)
      concurrentTasksPerWorker: 1,
      workerData: {
        budgetBuffer: this.budget.buffer,
        budgetTotal: options.pixelBudget,
        maxInputPixels: options.limits.maxInputPixels,
        libvipsCacheMb: options.libvipsCacheMb ?? 0,
      },
      idleTimeout: Number.POSITIVE_INFINITY,
      resourceLimits: { maxOldGenerationSizeMb: options.heapMb, maxYoungGenerationSizeMb: 64 },
    });
  }

  /** Pixels in use by admitted decodes (for tests and metrics). */
  get pixelsInUse(): number {
    return this.budget.inUse;
  }

  /** Extraction and the requested variants from one copy of the bytes. */
  async processImage(
    bytes: Buffer,
    o: { metadata: boolean; variants: { name: string; width: number }[]; intake?: IntakeRules },
  ): Promise<Processed> {
    const req: ProcessRequest = {
      bytes,
      limits: this.options.limits,
      metadata: o.metadata,
      intake: o.intake,
      variants: o.variants,
    };
    const out = await this.call<Processed>('processImage', req);
    for (const v of out.variants) v.rendered = rendered(v.rendered);
    return out;
  }

  async transform(input: Input, spec: TransformSpec): Promise<Rendered> {
    return rendered(await this.call<Rendered>('transform', { input, spec, limits: this.options.limits }));
  }

  /** Whether a downloaded body is a web page, and its og:image (parsed in a thread, linear time). */
  inspect(
    bytes: Buffer,
    pageUrl: string,
    declaredHtml: boolean,
  ): Promise<{ html: boolean; ogImage?: string }> {
    return this.call('inspect', { bytes, pageUrl, declaredHtml });
  }

  async close(): Promise<void> {
    await this.piscina.destroy();
  }

  private async call<T>(name: string, arg: unknown): Promise<T> {
    const outcome = await this.raw<Outcome<T>>(name, arg);
    if (!outcome.ok) throw new MediaError(outcome.code, outcome.message);
    return outcome.value;
  }

  private async raw<T>(name: string, arg: unknown): Promise<T> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.options.callTimeoutMs);
    const slot = this.nextSlot;
    this.nextSlot = (this.nextSlot + 1) % BUDGET_SLOTS;
    try {
      return (await this.piscina.run(
        { ...(arg as object), budgetSlot: slot },
        { name, signal: controller.signal },
      )) as T;
    } catch (err) {
      // A stopped or dead thread never releases its share of the pixel budget: give it back
      // now, and once more a little later in case the thread was still admitting when stopped.
      this.budget.reclaim(slot);
      setTimeout(() => this.budget.reclaim(slot), 1000).unref();
      if (controller.signal.aborted) {
        throw new MediaError(
          'processing_timeout',
          `processing took longer than ${this.options.callTimeoutMs} ms; the thread was stopped`,
        );
      }
      const message = err instanceof Error ? err.message : String(err);
      throw new MediaError('processing_crashed', `the media thread died: ${message.slice(0, 200)}`, {
        cause: err,
      });
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Buffers come back from a thread as plain Uint8Arrays. */
function rendered(r: Rendered): Rendered {
  const d = r.data as Uint8Array;
  return { ...r, data: Buffer.isBuffer(d) ? d : Buffer.from(d.buffer, d.byteOffset, d.byteLength) };
}
