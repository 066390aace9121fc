import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import {
  binaries,
  EmbeddedPostgresError,
  type Ids,
  initdb,
  PASSWORD,
  postgresUser,
  reachableBy,
  SHARED_ROOT,
  USER,
} from './embedded-setup.ts';
import { freePort } from './free-port.ts';

export { EmbeddedPostgresError };

export interface EmbeddedServer {
  url: string;
  /** False when another process (e.g. `npm start`) already runs this cluster; stop() is then a no-op. */
  owned: boolean;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  /** The preferred port; another free one is picked (and recorded) when it is taken. */
  port: number;
  /** Delete the cluster on stop (tests). */
  ephemeral?: boolean;
  /** False: use an existing cluster only, create nothing (commands that only read). */
  create?: boolean;
  log?: (line: string) => void;
}

/** Where a DATA_DIR records its cluster's directory and port, so every command finds them. */
const STATE_FILE = 'embedded-postgres.json';

interface State {
  cluster: string;
  port: number;
}

export function embeddedUrl(port: number, database = 'postgres'): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
}

/**
 * Starts (or reuses) the PostgreSQL cluster of a DATA_DIR. Its directory and port are
 * recorded in `<DATA_DIR>/embedded-postgres.json`: the port is the preferred one when it
 * is free, else any free port, so checkouts run side by side.
 *
 * PostgreSQL refuses to run as root, so as root it runs as the `postgres` system user
 * (created when missing). That user must reach the binaries and the cluster: when the
 * checkout or DATA_DIR is private (root in /root, a mode-700 mktemp folder), the binaries
 * are copied to a shared folder once per version and the cluster is placed under
 * /var/lib/imgkit-postgres instead of DATA_DIR.
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedServer> {
  const log = options.log ?? (() => {});
  const dataDir = path.resolve(options.dataDir);
  const saved = await readState(dataDir);
  const running = saved && (await portOfRunningCluster(saved.cluster));
  if (saved && running !== undefined && (await canConnect(running))) {
    return { url: embeddedUrl(running), owned: false, stop: async () => {} };
  }
  const cluster = saved?.cluster ?? path.join(dataDir, 'postgres');
  const initialised = existsSync(path.join(cluster, 'PG_VERSION'));
  if (!initialised && options.create === false) {
    throw new EmbeddedPostgresError(
      `no imgkit database in ${dataDir} (DATA_DIR): start it with \`npm start\` in your checkout first, ` +
        'or set DATA_DIR to that checkout’s .data, or DATABASE_URL',
    );
  }
  const asRoot = userInfo().uid === 0;
  const ids = asRoot ? await postgresUser() : undefined;
  const bin = await binaries(ids);
  let clusterDir = cluster;
  await mkdir(dataDir, { recursive: true });
  if (!initialised && ids) {
    // postgres needs to traverse DATA_DIR (not read it); the cluster folder is its own.
    const { mode } = await stat(dataDir);
    await chmod(dataDir, mode | 0o011);
    await mkdir(cluster, { recursive: true, mode: 0o700 });
    await chown(cluster, ids.uid, ids.gid);
    if (!(await reachableBy(ids, cluster))) {
      await rm(cluster, { recursive: true, force: true });
      clusterDir = path.join(
        SHARED_ROOT,
        `cluster-${createHash('sha256').update(dataDir).digest('hex').slice(0, 16)}`,
      );
      log(`DATA_DIR is private to root; the cluster lives in ${clusterDir} (recorded in ${STATE_FILE})`);
    }
  }
  if (!initialised) {
    await initdb(bin.initdb, clusterDir, ids, log);
  }
  // Two checkouts starting at once can both find the preferred port free: the loser of that
  // race takes another one.
  let port = await choosePort([saved?.port, options.port]);
  let stop: () => Promise<void>;
  for (let attempt = 1; ; attempt++) {
    try {
      stop = await spawnPostgres(bin.postgres, clusterDir, port, ids, log, options.ephemeral);
      break;
    } catch (err) {
      if (attempt >= 5 || (err as Error).cause !== 'port_taken') throw err;
      port = await freePort();
    }
  }
  if (!options.ephemeral) await writeState(dataDir, { cluster: clusterDir, port });
  return { url: embeddedUrl(port), owned: true, stop };
}

/** The first of the candidates that is free, else one the kernel picks. */
async function choosePort(candidates: (number | undefined)[]): Promise<number> {
  for (const port of candidates) if (port && (await isFree(port))) return port;
  return freePort();
}

function isFree(port: number): Promise<boolean> {
  return import('node:net').then(
    ({ createServer }) =>
      new Promise((resolve) => {
        const srv = createServer();
        srv.once('error', () => resolve(false));
        srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
      }),
  );
}

async function readState(dataDir: string): Promise<State | undefined> {
  try {
    const s = JSON.parse(await readFile(path.join(dataDir, STATE_FILE), 'utf8')) as State;
    return typeof s.cluster === 'string' && Number.isInteger(s.port) ? s : undefined;
  } catch {
    return undefined;
  }
}

async function writeState(dataDir: string, state: State): Promise<void> {
  const tmp = path.join(dataDir, `.${STATE_FILE}.${randomBytes(4).toString('hex')}`);
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`);
  await rename(tmp, path.join(dataDir, STATE_FILE));
}

const FLAGS = [
  '-c',
  'listen_addresses=127.0.0.1',
  '-c',
  'unix_socket_directories=',
  '-c',
  'max_connections=300',
];

/**
 * PostgreSQL runs under a tiny shell that holds a pipe from this process: when the pipe
 * closes — stop() closes it, and so does the kernel when this process dies, even by
 * SIGKILL — the shell sends PostgreSQL a fast shutdown (SIGINT) and waits for it. So the
 * server never outlives whoever started it. Both run in a process group of their own, so
 * a Ctrl-C in the terminal reaches only the supervisor, which stops the api and the worker
 * first and PostgreSQL last.
 */
const KEEPER =
  '"$@" & pid=$!; trap "" INT TERM; ' +
  // The reader waits for the pipe to close, then asks for a fast shutdown (repeated: a signal
  // that lands while the server is still starting can be missed). The shell itself waits for
  // the server, so it also ends when the server fails or exits by itself.
  // (fd 3: a background list's own stdin is /dev/null.)
  'exec 3<&0; ( read -r _ <&3; while kill -INT "$pid" 2>/dev/null; do sleep 0.2; done ) & wait "$pid"';

async function spawnPostgres(
  binary: string,
  dir: string,
  port: number,
  ids: Ids | undefined,
  log: (line: string) => void,
  removeOnStop: boolean | undefined,
): Promise<() => Promise<void>> {
  const child = spawn(
    '/bin/sh',
    ['-c', KEEPER, 'imgkit-postgres-keeper', binary, '-D', dir, '-p', String(port), ...FLAGS],
    {
      ...ids,
      detached: true,
      stdio: ['pipe', 'ignore', 'pipe'],
      env: { ...process.env, LC_MESSAGES: 'C' },
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let output = '';
    child.once('error', (err) =>
      reject(new EmbeddedPostgresError(`PostgreSQL could not run: ${err.message}`)),
    );
    child.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      output += text;
      for (const line of text.split('\n')) if (line.trim()) log(line.trimEnd());
      if (text.includes('database system is ready to accept connections')) resolve();
    });
    child.once('exit', (code) => {
      child.stdin?.end();
      const taken = /could not bind|Address already in use/i.test(output);
      reject(
        new EmbeddedPostgresError(
          taken
            ? `port ${port} is taken`
            : `embedded PostgreSQL did not start on port ${port} (exit ${code}): ${output.slice(-300).trim()}`,
          { cause: taken ? 'port_taken' : undefined },
        ),
      );
    });
  });
  // Running, the keeper must not keep this process alive, nor hold it back at exit.
  child.unref();
  (child.stderr as unknown as { unref?: () => void })?.unref?.();
  (child.stdin as unknown as { unref?: () => void })?.unref?.();
  return async () => {
    child.ref(); // wait for it
    child.stdin?.end(); // the keeper stops PostgreSQL (fast shutdown: clean, no recovery at next start)
    await exited;
    if (removeOnStop) await rm(dir, { recursive: true, force: true });
  };
}

/** Line 4 of postmaster.pid is the port of a running (or crashed) postmaster. */
async function portOfRunningCluster(dir: string): Promise<number | undefined> {
  try {
    const lines = (await readFile(path.join(dir, 'postmaster.pid'), 'utf8')).split('\n');
    const port = Number(lines[3]);
    return Number.isInteger(port) && port > 0 ? port : undefined;
  } catch {
    return undefined;
  }
}

async function canConnect(port: number): Promise<boolean> {
  const client = new pg.Client({ connectionString: embeddedUrl(port), connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}
