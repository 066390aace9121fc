/**
 * A process-wide budget of decoded pixels: a decode is admitted when the pixels it needs
 * fit, so concurrent work cannot exceed the bound however many slots the worker has.
 * First come, first served; a request larger than the whole budget waits until it is
 * alone (it was already checked against MAX_INPUT_PIXELS).
 */
export class PixelBudget {
  readonly total: number;
  private used = 0;
  private readonly waiting: { pixels: number; admit: () => void }[] = [];

  constructor(total: number) {
    this.total = total;
  }

  get inUse(): number {
    return this.used;
  }

  async acquire(pixels: number): Promise<() => void> {
    const need = Math.min(Math.max(0, pixels), this.total);
    if (this.waiting.length === 0 && this.used + need <= this.total) {
      this.used += need;
    } else {
      await new Promise<void>((admit) => this.waiting.push({ pixels: need, admit }));
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= need;
      this.drain();
    };
  }

  private drain(): void {
    while (this.waiting.length > 0 && this.used + this.waiting[0].pixels <= this.total) {
      const next = this.waiting.shift()!;
      this.used += next.pixels;
      next.admit();
    }
  }
}
