// Loaded with `node --import` before anything else, as @sentry/node requires, and only
// does something when SENTRY_DSN is set. Reads the environment directly because it runs
// before main(): this is the one exception to "config is parsed once in main()".
import { REPORTER } from './report.ts';

const dsn = process.env.SENTRY_DSN;
if (dsn) {
  // Imported only when used: @sentry/node and its instrumentations are ~35 MB of memory.
  const Sentry = await import('@sentry/node');
  Sentry.init({ dsn, environment: process.env.NODE_ENV ?? 'development' });
  // reportError() (the api's error handler, the worker's failed tasks) finds it here.
  (globalThis as Record<symbol, unknown>)[REPORTER] = (err: unknown, extra: Record<string, unknown>) =>
    Sentry.captureException(err, { extra });
}
