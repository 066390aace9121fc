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
    // Cell 0: pixels in use. Cells 1…SLOTS: what each call holds, so that the pool can give back
    // the share of a call whose thread it stopped (a terminated thread never runs its release).
    this.cells = new Int32Array(shared ?? new SharedArrayBuffer(4 * (1 + BUDGET_SLOTS)));
  }

  /**
   * Gives back whatever the call in `slot` still holds. Safe against the call's own release
   * racing it: whoever takes the slot's value first subtracts it, the other finds zero.
   */
  reclaim(slot: number): number {
    const held = Atomics.exchange(this.cells, 1 + (slot % BUDGET_SLOTS), 0);
    if (held > 0) {
      Atomics.sub(this.cells, 0, held);
      Atomics.notify(this.cells, 0);
    }
    return held;
  }

  get buffer(): SharedArrayBuffer {
    return this.cells.buffer as SharedArrayBuffer;
  }

  get inUse(): number {
    return Atomics.load(this.cells, 0);
  }

  /** Admits `pixels`; with a slot, the share is recorded there for reclaim(). */
  async acquire(pixels: number, slot?: number): Promise<() => void> {
    const need = Math.min(Math.max(0, Math.ceil(pixels)), this.total);
    for (;;) {
      const used = Atomics.load(this.cells, 0);
      if (used + need <= this.total) {
        if (Atomics.compareExchange(this.cells, 0, used, used + need) === used) break;
        continue;
      }
      await Atomics.waitAsync(this.cells, 0, used, 100).value;
    }
    if (slot !== undefined) {
      Atomics.store(this.cells, 1 + (slot % BUDGET_SLOTS), need);
      return () => void this.reclaim(slot);
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

/** Calls are numbered modulo this; a stopped thread is gone long before its number comes round. */
export const BUDGET_SLOTS = 4096;
/** In a call's cell of the pool's thread table: the pool gave the call up before a thread started it. */
export const CALL_GIVEN_UP = -1;
