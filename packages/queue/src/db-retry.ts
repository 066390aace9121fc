import { setTimeout as sleep } from 'node:timers/promises';
import { isDatabaseUnavailable } from '@imgkit/db';

/** True for errors that say "the database is not reachable right now", not "the query is wrong". */
export const isConnectionError = isDatabaseUnavailable;

/** Retries a database write across a dropped connection or a server restart, for up to `forMs`. */
export async function withDbRetry<T>(forMs: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + forMs;
  let delay = 100;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!isConnectionError(err) || Date.now() + delay > deadline) throw err;
      await sleep(delay);
      delay = Math.min(delay * 2, 2000);
    }
  }
}

export function errSummary(err: unknown): { message: string; code?: string } | undefined {
  if (err === undefined) return undefined;
  const e = err as { message?: string; code?: string };
  return { message: e?.message ?? String(err), code: e?.code };
}
