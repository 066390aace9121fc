export { createMediaPool, mediaLimits } from './deps.ts';
export { ALL_MIGRATIONS, APP_MIGRATIONS, migrateDatabase } from './migrations.ts';
export { NODE_FLAGS } from './node-flags.ts';
export { reportError } from './report.ts';
export { retryFailedTask } from './retry-task.ts';
export { createBlobStore, isCacheableBlob, s3Settings } from './storage.ts';

import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config, LocalSecrets } from '@imgkit/config';
import { ConfigError, loadConfig } from '@imgkit/config';
import { type EmbeddedServer, startEmbeddedPostgres } from '@imgkit/db';

/**
 * The database a process should use: DATABASE_URL when set, otherwise the
 * embedded cluster under DATA_DIR (reused when `npm start` already runs it).
 */
export async function resolveDatabase(
  config: Config,
  options: { create?: boolean; log?: (line: string) => void } = {},
): Promise<{ url: string; embedded?: EmbeddedServer }> {
  if (config.DATABASE_URL) return { url: config.DATABASE_URL };
  const embedded = await startEmbeddedPostgres({
    dataDir: config.dataDir,
    port: config.EMBEDDED_PG_PORT,
    create: options.create,
    log: options.log,
  });
  return { url: embedded.url, embedded };
}

/**
 * Parses the environment, or prints the one-line reason and exits 78 (EX_CONFIG).
 * Only main() functions call this.
 */
export function loadConfigOrExit(
  env: NodeJS.ProcessEnv = process.env,
  options: { createLocalSecrets?: boolean } = {},
): Readonly<Config> {
  try {
    const dataDir = env.DATA_DIR || './.data';
    const secrets =
      env.NODE_ENV === 'production' ? undefined : localSecrets(dataDir, options.createLocalSecrets ?? true);
    if (env.NODE_ENV !== 'production' && !secrets && !(env.SECRET_KEY && env.URL_SIGNING_KEY)) {
      throw new ConfigError(
        `no imgkit data in ${path.resolve(dataDir)} (DATA_DIR): run \`npm start\` in your checkout first, ` +
          'or set DATA_DIR to its .data folder (or DATABASE_URL, SECRET_KEY and URL_SIGNING_KEY)',
      );
    }
    return loadConfig(env, secrets);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`imgkit: ${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
}

/**
 * SIGTERM/SIGINT run `shutdown` once; a second signal forces exit(1), so an
 * operator is never stuck behind a hung drain.
 */
export function onShutdownSignal(
  shutdown: (signal: string) => Promise<void>,
  log: (msg: string) => void,
): void {
  let shuttingDown = false;
  const handler = (signal: NodeJS.Signals) => {
    if (shuttingDown) {
      log(`second ${signal}: exiting now`);
      process.exit(1);
    }
    shuttingDown = true;
    log(`${signal}: shutting down gracefully`);
    shutdown(signal).then(
      () => process.exit(0),
      (err) => {
        log(`shutdown failed: ${String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

/**
 * Outside production, SECRET_KEY and URL_SIGNING_KEY default to random values
 * generated once and kept in DATA_DIR/secrets.json, so the api, the worker and
 * the CLI of one checkout agree without any setup — and no two checkouts share them.
 */
export function localSecrets(dataDir: string, create = true): LocalSecrets | undefined {
  const file = path.resolve(dataDir, 'secrets.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LocalSecrets;
  } catch {
    if (!create) return undefined;
    const secrets: LocalSecrets = {
      secretKey: randomBytes(32).toString('base64url'),
      urlSigningKey: randomBytes(32).toString('base64url'),
    };
    mkdirSync(path.dirname(file), { recursive: true });
    try {
      writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { flag: 'wx', mode: 0o600 });
      return secrets;
    } catch {
      // Another process created it first: use theirs.
      return JSON.parse(readFileSync(file, 'utf8')) as LocalSecrets;
    }
  }
}
