import { type Queryable, query, sql } from '@imgkit/db';
import { CHANNEL } from './channel.ts';

const notify = sql('tasks.notify', `SELECT pg_notify('${CHANNEL}', $1)`);

/**
 * Wakes workers after tasks were committed, coalescing bursts into one NOTIFY:
 * at most one in flight, and one more after it if anything was enqueued meanwhile.
 * NOTIFY inside each writing transaction would take PostgreSQL's notify lock at
 * every commit and serialise the api's writers.
 */
export class Notifier {
  private readonly db: Queryable;
  private inFlight = false;
  private again = false;

  constructor(db: Queryable) {
    this.db = db;
  }

  /** Call after COMMIT. Never throws: a lost wake-up costs at most one poll interval. */
  wake(): void {
    if (this.inFlight) {
      this.again = true;
      return;
    }
    this.inFlight = true;
    query(this.db, notify, [String(Date.now())])
      .catch(() => undefined)
      .finally(() => {
        this.inFlight = false;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }
}
