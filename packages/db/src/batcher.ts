/**
 * Groups concurrent calls into one statement when the database is the queue: up to
 * `maxInFlight` batches run at once (normally the pool's size); a call made while all of them
 * are busy waits for the next batch, which takes every call waiting then (up to `maxBatch`).
 * An idle process therefore sends each call at once, alone, and a busy one sends fewer,
 * larger statements — each paying its round trip, parse/plan/execute and commit flush once
 * for many rows, the way PostgreSQL's own group commit shares a flush.
 */
export class Batcher<I, O> {
  private readonly run: (items: I[]) => Promise<O[]>;
  private readonly maxInFlight: number;
  private readonly maxBatch: number;
  private inFlight = 0;
  private waiting: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];

  constructor(run: (items: I[]) => Promise<O[]>, options: { maxInFlight: number; maxBatch: number }) {
    this.run = run;
    this.maxInFlight = Math.max(1, options.maxInFlight);
    this.maxBatch = Math.max(1, options.maxBatch);
  }

  /** The result for `item`, as `run` returned it at the same index of its batch. */
  call(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.maxBatch);
      this.inFlight++;
      this.run(batch.map((w) => w.item))
        .then(
          (results) => {
            batch.forEach((w, i) => {
              w.resolve(results[i]);
            });
          },
          (err) => {
            for (const w of batch) w.reject(err);
          },
        )
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
  }
}
