import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createAccount, createApiKey } from '@imgkit/auth';
import { createPool, withTransaction } from '@imgkit/db';
import { loadConfigOrExit, migrateDatabase, NODE_FLAGS, resolveDatabase } from '@imgkit/runtime';
import { generateWebhookSecret } from '@imgkit/webhooks';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const PROCESSES = {
  api: path.join(ROOT, 'apps/api/src/main.ts'),
  worker: path.join(ROOT, 'apps/worker/src/main.ts'),
};

interface DevAccount {
  account_id: string;
  key_prefix: string;
}

/**
 * `npm start`: embedded PostgreSQL (unless DATABASE_URL), migrations, a
 * development account on first start, then api and worker as two labelled
 * child processes. Ctrl-C stops both, then PostgreSQL, and leaves nothing behind.
 */
export async function runDev(): Promise<void> {
  const config = loadConfigOrExit();
  const say = (line: string) => process.stdout.write(`[imgkit] ${line}\n`);
  if (config.embeddedDatabase)
    say(`starting embedded PostgreSQL in ${path.join(config.dataDir, 'postgres')}`);
  const db = await resolveDatabase(config);
  await migrateDatabase(db.url);
  const { account, key, webhookSecret } = await ensureDevAccount(db.url, config.dataDir, config.secretKey);

  const env = {
    // Node keeps the TypeScript it stripped and the code it compiled here: a process (and each
    // media thread) then starts without loading the type stripper, ~9 MB less per thread.
    NODE_COMPILE_CACHE: path.join(config.dataDir, 'compile-cache'),
    ...process.env,
    DATABASE_URL: db.url,
    DATA_DIR: config.dataDir,
  };
  const children: ChildProcess[] = [];
  const listening = new Promise<number>((resolve) => {
    children.push(
      startChild('api', PROCESSES.api, env, (msg) => msg.type === 'listening' && resolve(msg.port)),
    );
  });
  children.push(startChild('worker', PROCESSES.worker, env, () => {}));

  let stopping = false;
  const exited = children.map((c) => new Promise<void>((r) => c.once('exit', () => r())));
  const stop = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    say(`${reason}: stopping api and worker`);
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    // A child that has not exited by its drain deadline (blocked, stopped, or ignoring
    // SIGTERM) is killed with its whole process group: nothing outlives the supervisor.
    const killer = setTimeout(() => {
      for (const c of children) {
        if (c.exitCode !== null || c.signalCode !== null || !c.pid) continue;
        say(`${c.spawnargs.at(-1)?.includes('/worker/') ? 'worker' : 'api'} did not stop in time: SIGKILL`);
        try {
          process.kill(-c.pid, 'SIGKILL');
        } catch {
          c.kill('SIGKILL');
        }
      }
    }, config.WORKER_SHUTDOWN_TIMEOUT_MS + 5000);
    await Promise.all(exited);
    clearTimeout(killer);
    if (db.embedded?.owned) say('stopping PostgreSQL');
    await db.embedded?.stop();
    say('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  for (const c of children) c.once('exit', (code) => void stop(`a child exited (code ${code})`));

  const port = await listening;
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
  const base = `http://${host}:${port}`;
  say(`api:     ${base}  (docs: ${base}/docs)`);
  say(`console: ${base}/console/  (sign in with the API key)`);
  if (key) {
    say(`account: ${account}`);
    say(`API key: ${key}   <- shown only once; keep it`);
    say(`webhook signing secret: ${webhookSecret}   (npx imgkit accounts show prints it again)`);
  } else {
    say(
      `account: ${account}; its API key was shown on first start (npx imgkit accounts show; keys create for a new one)`,
    );
  }
  say('quick start (another terminal, in this folder; README.md has the rest):');
  say(`  export IMGKIT_URL=${base} IMGKIT_KEY=${key ?? '<your key>'}`);
  say('  npx imgkit import ./test/corpus/camera-exif --wait');
  say('Ctrl-C stops everything.');
}

function startChild(
  label: string,
  entry: string,
  env: NodeJS.ProcessEnv,
  onMessage: (msg: { type: string; port: number }) => void,
): ChildProcess {
  // Own process group: Ctrl-C reaches only us, and we stop the children exactly once.
  const child = spawn(process.execPath, [...NODE_FLAGS, entry], {
    env,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    detached: true,
  });
  const prefix = `[${label}]`.padEnd(9);
  for (const stream of [child.stdout, child.stderr]) {
    if (stream)
      createInterface({ input: stream }).on('line', (line) => process.stdout.write(`${prefix}${line}\n`));
  }
  child.on('message', (m) => onMessage(m as { type: string; port: number }));
  return child;
}

/** The development account of a DATA_DIR, if `npm start` made one there. */
export async function devAccountId(dataDir: string): Promise<string | undefined> {
  try {
    return (JSON.parse(await readFile(path.join(dataDir, 'dev-account.json'), 'utf8')) as DevAccount)
      .account_id;
  } catch {
    return undefined;
  }
}

/** First start creates a development account and key; later starts only remind where it came from. */
async function ensureDevAccount(url: string, dataDir: string, secretKey: string) {
  const marker = path.join(dataDir, 'dev-account.json');
  if (existsSync(marker)) {
    const saved = JSON.parse(await readFile(marker, 'utf8')) as DevAccount;
    return { account: saved.account_id, key: undefined, webhookSecret: undefined };
  }
  const pool = createPool({ connectionString: url, max: 1 });
  try {
    const webhookSecret = generateWebhookSecret();
    const { accountId, key, prefix } = await withTransaction(pool, async (tx) => {
      const account = await createAccount(tx, 'Development', webhookSecret);
      const created = await createApiKey(tx, secretKey, account.id, 'development');
      return { accountId: account.id, key: created.key, prefix: created.record.display_prefix };
    });
    const saved: DevAccount = { account_id: accountId, key_prefix: prefix };
    await writeFile(marker, `${JSON.stringify(saved, null, 2)}\n`);
    return { account: accountId, key, webhookSecret };
  } finally {
    await pool.end();
  }
}
