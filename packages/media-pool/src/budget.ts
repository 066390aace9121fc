/**
 * A process-wide budget of decoded pixels, shared by all media threads through a
 * SharedArrayBuffer: a decode is admitted when the pixels it needs fit, so concurrent work
 * cannot exceed the bound however many threads and slots there are. Waiting is asynchronous
 * (Atomics.waitAsync), so a thread that runs several calls never blocks its own event loop.
 * A request larger than the whole budget waits until it is alone (it was already checked
 * against MAX_INPUT_PIXELS).
 */
export class PixelBudget {
  readonly total: number;
  private readonly cells: Int32Array;

  /** A new budget, or (in a thread) the one whose buffer the pool shared. */
  constructor(total: number, shared?: SharedArrayBuffer) {
    this.total = Math.min(total, 2 ** 31 - 1);
    this.cells = new Int32Array(shared ?? new SharedArrayBuffer(4));
  }

  get buffer(): SharedArrayBuffer {
    return this.cells.buffer as SharedArrayBuffer;
  }

  get inUse(): number {
    return Atomics.load(this.cells, 0);
  }

  async acquire(pixels: number): Promise<() => void> {
    const need = Math.min(Math.max(0, Math.ceil(pixels)), this.total);
    for (;;) {
      const used = Atomics.load(this.cells, 0);
      if (used + need <= this.total) {
        if (Atomics.compareExchange(this.cells, 0, used, used + need) === used) break;
        continue;
      }
      await Atomics.waitAsync(this.cells, 0, used, 100).value;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      Atomics.sub(this.cells, 0, need);
      Atomics.notify(this.cells, 0);
    };
  }
}
