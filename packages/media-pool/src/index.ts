import {
  type IntakeRules,
  MediaError,
  type MediaLimits,
  type Rendered,
  type TransformSpec,
} from '@imgkit/media/core';
import { Piscina } from 'piscina';
import { BUDGET_SLOTS, CALL_GIVEN_UP, PixelBudget } from './budget.ts';
import type { Outcome, Processed, ProcessRequest, Saved, SaveTo } from './thread.ts';

export { PixelBudget } from './budget.ts';
export type { Processed, Saved, SaveTo } from './thread.ts';

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
  /**
   * Local originals up to this size, MiB, are read whole into buffers each thread keeps for its
   * renders (MEDIA_READ_WHOLE_MB; 16 when unset); 0: every file streams from its path.
   */
  readWholeMb?: number;
  /**
   * Calls one thread runs at once (1 when unset). Above 1 a thread starts another call while
   * libvips decodes for the first (its event loop is idle meanwhile), so fewer threads — each
   * its own V8 isolate — keep the cores busy: the api's on-the-fly renders (API_MEDIA_CALLS_PER_THREAD).
   */
  callsPerThread?: number;
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
  private readonly shared: boolean;
  /** Per call slot: the threadId running it, 0 before a thread starts it, CALL_GIVEN_UP after a deadline. */
  private readonly callThreads = new Int32Array(new SharedArrayBuffer(4 * BUDGET_SLOTS));
  /** Threads stopped for an overdue call, whose other calls run again elsewhere (for a minute). */
  private readonly stoppedThreads = new Set<number>();
  private closing = false;

  constructor(options: MediaPoolOptions) {
    this.options = options;
    this.budget = new PixelBudget(options.pixelBudget);
    const callsPerThread = Math.max(1, options.callsPerThread ?? 1);
    this.shared = callsPerThread > 1;
    this.piscina = new Piscina({
      filename: new URL('./thread.ts', import.meta.url).href,
      // All threads from the start: a thread costs ~250 ms to load its modules, not at a first request.
      minThreads: options.threads,
      maxThreads: options.threads,
      // One call per thread by default: a deadline terminates the thread, and with it only its
      // own call (piscina runs a call that has an abort signal alone on its thread, which is
      // why one thread ran one sharp pipeline at a time). With callsPerThread above 1, calls
      // carry no signal; a deadline stops the overdue call's thread itself (see raw()).
      concurrentTasksPerWorker: callsPerThread,
      // Calls start in the order they came. Without it piscina sends a call it could not place
      // at once to the back of the queue: with shared threads some renders waited 3-5 s while
      // the median took 0.2 s (p99 2.9 s against 0.4 s in FIFO order).
      stricterFIFO: true,
      workerData: {
        budgetBuffer: this.budget.buffer,
        callThreadsBuffer: this.callThreads.buffer,
        budgetTotal: options.pixelBudget,
        maxInputPixels: options.limits.maxInputPixels,
        libvipsCacheMb: options.libvipsCacheMb ?? 0,
        readWholeMb: options.readWholeMb ?? 16,
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

  /**
   * Renders `input`. With `saveTo`, the thread also writes the rendering to `saveTo.tmp` and
   * renames it to `saveTo.file` (a disk cache's entry); `saved` says whether that worked.
   */
  async transform(input: Input, spec: TransformSpec, options: { saveTo?: SaveTo } = {}): Promise<Saved> {
    const out = await this.call<Saved>('transform', {
      input,
      spec,
      limits: this.options.limits,
      saveTo: options.saveTo,
    });
    return rendered(out);
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
    this.closing = true;
    await this.piscina.destroy();
  }

  private async call<T>(name: string, arg: unknown): Promise<T> {
    const outcome = await this.raw<Outcome<T>>(name, arg);
    if (!outcome.ok) throw new MediaError(outcome.code, outcome.message);
    return outcome.value;
  }

  /**
   * One call within its deadline. On a shared thread, a call whose thread was stopped for
   * another call's deadline (or died before starting it) is not at fault: it runs again, on the
   * replacement thread, for as long as its own deadline leaves time, and ends
   * `processing_timeout` at the latest.
   */
  private async raw<T>(name: string, arg: unknown): Promise<T> {
    const deadline = performance.now() + this.options.callTimeoutMs;
    for (let runs = 1; ; runs++) {
      const slot = this.nextSlot;
      this.nextSlot = (this.nextSlot + 1) % BUDGET_SLOTS;
      try {
        return await this.attempt<T>(name, arg, slot, Math.max(0, deadline - performance.now()));
      } catch (err) {
        if (!(err instanceof StoppedForAnother)) throw err;
        // Each run waits for a thread's start, so this is no busy loop; the bound is a backstop.
        if (performance.now() >= deadline || runs >= MAX_RUNS) throw this.timeout();
      }
    }
  }

  private async attempt<T>(name: string, arg: unknown, slot: number, ms: number): Promise<T> {
    Atomics.store(this.callThreads, slot, 0);
    const controller = new AbortController();
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const run = this.piscina.run(
      { ...(arg as object), budgetSlot: slot },
      this.shared ? { name } : { name, signal: controller.signal },
    ) as Promise<T>;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        if (this.shared) {
          this.giveUp(slot);
          reject(new Error('deadline'));
        } else controller.abort();
      }, ms);
    });
    try {
      return await Promise.race([run, deadline]);
    } catch (err) {
      run.catch(() => undefined); // a call given up settles later, when its thread is stopped
      // A stopped or dead thread never releases its share of the pixel budget: give it back
      // now, and once more a little later in case the thread was still admitting when stopped.
      this.budget.reclaim(slot);
      setTimeout(() => this.budget.reclaim(slot), 1000).unref();
      if (timedOut) throw this.timeout();
      // Not this call's doing: its thread was stopped for another call's deadline, or went down
      // before it had started this call (it had been handed the call and not begun it).
      // (A pool that is closing fails its calls at once: those are not run again.)
      const ranOn = Atomics.load(this.callThreads, slot);
      const threadExit = /worker exited/i.test(err instanceof Error ? err.message : '');
      if (this.shared && !this.closing && (this.stoppedThreads.has(ranOn) || (ranOn === 0 && threadExit))) {
        throw new StoppedForAnother();
      }
      const message = err instanceof Error ? err.message : String(err);
      throw new MediaError('processing_crashed', `the media thread died: ${message.slice(0, 200)}`, {
        cause: err,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  private timeout(): MediaError {
    return new MediaError(
      'processing_timeout',
      `processing took longer than ${this.options.callTimeoutMs} ms; the thread was stopped`,
    );
  }

  /**
   * A shared thread's call is past its deadline: if no thread has started it, it never will
   * (the thread sees CALL_GIVEN_UP); otherwise its thread is terminated, as an abort would,
   * and piscina replaces it.
   */
  private giveUp(slot: number): void {
    const threadId = Atomics.compareExchange(this.callThreads, slot, 0, CALL_GIVEN_UP);
    if (threadId <= 0) return;
    this.stoppedThreads.add(threadId);
    setTimeout(() => this.stoppedThreads.delete(threadId), 60_000).unref();
    void this.piscina.threads.find((t) => t.threadId === threadId)?.terminate();
  }
}

/** Runs of one call whose threads were stopped under it for other calls, at most. */
const MAX_RUNS = 5;

/** A call's thread was stopped for another call's deadline, or before it started the call. */
class StoppedForAnother extends Error {}

/** Buffers come back from a thread as plain Uint8Arrays. */
function rendered<T extends Rendered>(r: T): T {
  const d = r.data as Uint8Array;
  return { ...r, data: Buffer.isBuffer(d) ? d : Buffer.from(d.buffer, d.byteOffset, d.byteLength) };
}
