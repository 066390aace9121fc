import { type Queryable, query, sql } from '@imgkit/db';
import { CHANNEL } from './channel.ts';

const notify = sql('tasks.notify', `SELECT pg_notify('${CHANNEL}', $1)`);

/**
 * Wakes workers after tasks were committed, with at most one NOTIFY in flight at a time.
 * NOTIFY inside every writing transaction would take PostgreSQL's notify lock at each commit
 * and serialise the api's writers; one at a time does not. The NOTIFY rides on a producer's own
 * insert when it can (`carry`), so a busy api sends hardly any statement of its own:
 *
 * - an insert issued while none is in flight carries it; its commit wakes the workers, and
 *   everything committed before that commit is visible to their claim;
 * - an insert that committed while one was in flight is covered only by a NOTIFY issued after
 *   its commit (the one in flight may already have been delivered), so when that one completes
 *   a wake-up is owed: the next insert issued within `carryWithinMs` carries it, or the owed
 *   NOTIFY is sent on its own.
 */
export class Notifier {
  private readonly db: Queryable;
  private readonly carryWithinMs: number;
  private inFlight = false;
  private again = false;
  private owed: NodeJS.Timeout | null = null;

  constructor(db: Queryable, options: { carryWithinMs?: number } = {}) {
    this.db = db;
    this.carryWithinMs = options.carryWithinMs ?? 1;
  }

  /**
   * Before issuing an insert that can carry the NOTIFY: true if it must (then call `carried`
   * when it finished, whatever the outcome).
   */
  carry(): boolean {
    if (this.inFlight) return false;
    this.inFlight = true;
    if (this.owed) {
      clearTimeout(this.owed);
      this.owed = null;
    }
    return true;
  }

  /** The carrying insert finished; `committed` false if it failed (its NOTIFY was never sent). */
  carried(committed: boolean): void {
    this.settled();
    // A wake-up owed before it was handed to this insert, and the insert rolled back: still owed.
    if (!committed) this.owe();
  }

  /** Call after COMMIT of an insert that did not carry the NOTIFY. Never throws. */
  wake(): void {
    if (this.inFlight) {
      this.again = true;
      return;
    }
    this.owe();
  }

  private owe() {
    if (this.owed) return;
    this.owed = setTimeout(() => {
      this.owed = null;
      this.send();
    }, this.carryWithinMs);
    this.owed.unref();
  }

  /** A NOTIFY of its own; a lost wake-up costs at most one poll interval, so errors are dropped. */
  private send() {
    if (this.inFlight) {
      this.again = true;
      return;
    }
    this.inFlight = true;
    query(this.db, notify, [String(Date.now())])
      .catch(() => undefined)
      .finally(() => this.settled());
  }

  private settled() {
    this.inFlight = false;
    if (this.again) {
      this.again = false;
      this.owe();
    }
  }
}
