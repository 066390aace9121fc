import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';

const ROOT = path.resolve(import.meta.dirname, '../../..');

/** `npm start` as a user runs it (without DATABASE_URL: the embedded PostgreSQL of DATA_DIR). */
function startDev(dataDir: string, extraEnv: Record<string, string> = {}) {
  const env: Record<string, string | undefined> = {
    ...process.env,
    DATA_DIR: dataDir,
    PORT: '0',
    WORKER_CONCURRENCY: '1',
    WORKER_SHUTDOWN_TIMEOUT_MS: '1000',
    LOG_LEVEL: 'warn',
    ...extraEnv,
  };
  delete env.DATABASE_URL;
  const child = spawn(process.execPath, [path.join(ROOT, 'apps/cli/src/main.ts'), 'dev'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const ready = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      const m = /\[imgkit\] api: +(http:\/\/\S+)/.exec(line);
      if (m) resolve(m[1]);
    });
    child.stderr!.on('data', (d: Buffer) => lines.push(d.toString()));
    child.once('exit', (code) => reject(new Error(`npm start exited ${code}:\n${lines.join('\n')}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, ready, exited, lines };
}

/** Every process below `pid` (children, grandchildren: api, worker, the PostgreSQL keeper and server). */
function descendants(pid: number): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,ppid='], { encoding: 'utf8' });
  const byParent = new Map<number, number[]>();
  for (const line of out.trim().split('\n')) {
    const [p, pp] = line.trim().split(/\s+/).map(Number);
    byParent.set(pp, [...(byParent.get(pp) ?? []), p]);
  }
  const all: number[] = [];
  const walk = (p: number) => {
    for (const c of byParent.get(p) ?? []) {
      all.push(c);
      walk(c);
    }
  };
  walk(pid);
  return all;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * The processes still alive, for a failure message: command line, and the state and kernel wait
 * channel of each of their threads (a process stuck in a write to a pipe, or a thread that does
 * not stop, shows there).
 */
function left(pids: number[]): string {
  return pids
    .filter(alive)
    .map((p) => {
      let line = String(p);
      try {
        line = execFileSync('ps', ['-o', 'pid=,stat=,args=', '-p', String(p)], { encoding: 'utf8' }).trim();
        const threads = readdirSync(`/proc/${p}/task`).map((t) => {
          const dir = `/proc/${p}/task/${t}`;
          const state = readFileSync(`${dir}/stat`, 'utf8').split(') ')[1]?.split(' ')[0];
          return `${readFileSync(`${dir}/comm`, 'utf8').trim()}:${state}:${readFileSync(`${dir}/wchan`, 'utf8')}`;
        });
        line += ` [${threads.join(', ')}]`;
      } catch {
        // gone meanwhile, or no /proc: the command line is enough
      }
      return line;
    })
    .join('; ');
}

async function until(check: () => boolean, what: string | (() => string), limitMs = 30_000) {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for: ${typeof what === 'function' ? what() : what}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function healthy(base: string) {
  const res = await fetch(`${base}/readyz`);
  assert.equal(res.status, 200);
}

test('npm start starts 10 times out of 10, and Ctrl-C leaves nothing running', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'imgkit-dev-'));
  for (let i = 0; i < 10; i++) {
    const dev = startDev(dataDir);
    await healthy(await dev.ready);
    const below = descendants(dev.child.pid!);
    assert.ok(below.length >= 3, `api, worker and PostgreSQL run below the supervisor (${below.length})`);
    dev.child.kill('SIGINT');
    assert.equal(await dev.exited, 0, dev.lines.join('\n'));
    await until(() => below.every((p) => !alive(p)), `start ${i + 1}: every process gone`);
  }
  const state = JSON.parse(await readFile(path.join(dataDir, 'embedded-postgres.json'), 'utf8'));
  assert.ok(Number.isInteger(state.port), 'the port is recorded under DATA_DIR');
});

test('SIGKILL of the supervisor: api, worker and PostgreSQL exit on their own', async () => {
  const dev = startDev(await mkdtemp(path.join(tmpdir(), 'imgkit-dev-')));
  await healthy(await dev.ready);
  const below = descendants(dev.child.pid!);
  dev.child.kill('SIGKILL');
  await dev.exited;
  // Bounded by the children's own deadlines (drain, then PostgreSQL's fast shutdown); on a CI
  // machine busy with the other test files that has taken more than 30 s once.
  await until(
    () => below.every((p) => !alive(p)),
    () => `orphans gone (left: ${left(below)})`,
    90_000,
  );
});

test('a child that does not react to SIGTERM is killed at the drain deadline', async () => {
  const dev = startDev(await mkdtemp(path.join(tmpdir(), 'imgkit-dev-')));
  await healthy(await dev.ready);
  const children = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(dev.child.pid)], {
    encoding: 'utf8',
  });
  const worker = Number(/^\s*(\d+)\s.*apps\/worker\/src\/main\.ts/m.exec(children)?.[1]);
  assert.ok(worker > 0, children);
  process.kill(worker, 'SIGSTOP'); // a stopped process cannot act on SIGTERM; SIGKILL still works
  const below = descendants(dev.child.pid!);
  dev.child.kill('SIGINT');
  assert.equal(await dev.exited, 0, dev.lines.join('\n'));
  assert.ok(
    dev.lines.some((l) => l.includes('worker did not stop in time: SIGKILL')),
    dev.lines.join('\n'),
  );
  await until(() => below.every((p) => !alive(p)), 'everything gone');
});

test('two DATA_DIRs run side by side: the second picks another free port', async () => {
  const a = startDev(await mkdtemp(path.join(tmpdir(), 'imgkit-dev-')));
  const b = startDev(await mkdtemp(path.join(tmpdir(), 'imgkit-dev-')));
  await healthy(await a.ready);
  await healthy(await b.ready);
  for (const d of [a, b]) d.child.kill('SIGINT');
  assert.deepEqual(await Promise.all([a.exited, b.exited]), [0, 0]);
});

test('an operator command in a folder with no imgkit data says so in one line and creates nothing', async () => {
  const empty = await mkdtemp(path.join(tmpdir(), 'imgkit-empty-'));
  const env: Record<string, string | undefined> = { ...process.env, DATA_DIR: path.join(empty, '.data') };
  delete env.DATABASE_URL;
  delete env.SECRET_KEY;
  delete env.URL_SIGNING_KEY;
  const child = spawn(process.execPath, [path.join(ROOT, 'apps/cli/bin/imgkit.js'), 'accounts', 'list'], {
    env,
    cwd: empty,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  assert.notEqual(code, 0);
  assert.equal(stderr.trim().split('\n').length, 1, stderr);
  assert.match(stderr, /no imgkit data/);
  assert.deepEqual(execFileSync('ls', ['-A', empty], { encoding: 'utf8' }).trim(), '');
});
