import { pino } from 'pino';
// A CommonJS module: its class is the module itself, also exposed as `.SonicBoom` (which its
// type definitions describe).
import sonicBoom, { type SonicBoomOpts } from 'sonic-boom';

export type Logger = pino.Logger;

/** Paths whose values never reach a log line: keys, secrets, signatures. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'key',
  '*.key',
  'secret',
  '*.secret',
  'password',
  '*.password',
  'databaseUrl',
  '*.databaseUrl',
];

type Destination = InstanceType<typeof sonicBoom.SonicBoom>;

let stdout: Destination | undefined;

/**
 * Standard output for every logger of the process, written as pino's default is (sonic-boom,
 * asynchronous), but one that cannot hang the process. pino's own destination flushes what is
 * still buffered when the process exits, and the sonic-boom it ships (4.x) retries a failed
 * synchronous write every 100 ms for ever unless the error is EAGAIN: a process whose reader
 * went away (`npm start` killed, a closed pipe) and that logged just before exiting never exited
 * (seen: a worker outliving its killed supervisor, its main thread in that loop). sonic-boom 5
 * throws instead, and gives up on EAGAIN after `maxWriteRetries` (a reader that stopped reading:
 * at exit the rest is dropped after ~5 s). Once the reader is gone, lines are dropped: there is
 * nobody to read them.
 */
function sharedStdout(): Destination {
  if (stdout) return stdout;
  // maxWriteRetries is in sonic-boom 5's code and README but not yet in its type definitions.
  const dest = new sonicBoom.SonicBoom({ fd: 1, sync: false, maxWriteRetries: 50 } as SonicBoomOpts);
  dest.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') {
      dest.write = () => true;
      dest.flushSync = () => undefined;
      return;
    }
    // A reader that stopped reading for maxWriteRetries × 100 ms: what is buffered stays, and
    // the next line tries again; logging never takes the process down for it.
    if (err.code === 'EAGAIN' || err.code === 'EBUSY') return;
    throw err;
  });
  process.on('exit', () => {
    try {
      dest.flushSync();
    } catch {
      // the reader is gone or stuck: what is left cannot be delivered
    }
  });
  stdout = dest;
  return dest;
}

export function createLogger(options: { name: string; level: string }): Logger {
  return pino(
    {
      name: options.name,
      level: options.level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { pid: process.pid, service: options.name },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    sharedStdout(),
  );
}
