/** Where the Sentry preload leaves its reporter (packages/runtime/src/instrument.ts). */
export const REPORTER = Symbol.for('imgkit.reportError');

type Reporter = (err: unknown, context: Record<string, unknown>) => void;

/**
 * Sends an unexpected error to Sentry when the process was started with the Sentry preload
 * and SENTRY_DSN is set; otherwise does nothing. (Sentry itself is loaded only by the
 * preload, so processes without it never pay for importing it.)
 */
export function reportError(err: unknown, context: Record<string, string | number | undefined> = {}): void {
  const reporter = (globalThis as Record<symbol, Reporter | undefined>)[REPORTER];
  reporter?.(err, context);
}
