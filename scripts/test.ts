/**
 * `npm test`: runs every test file with node:test against a real PostgreSQL —
 * TEST_DATABASE_URL when set, otherwise one embedded server started for the run.
 * A migrated template database is made once; each test file clones its own.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { embeddedUrl, freePort, startEmbeddedPostgres } from '@imgkit/db';
import { migrateDatabase } from '@imgkit/runtime';
import pg from 'pg';

const TEMPLATE = 'imgkit_test_template';
/**
 * Files that measure the machine (event-loop delay, RSS under hostile load) run alone, after
 * the rest: run beside other test files they would measure the CI's CPU contention instead.
 * They are named *.serial-test.ts so the globs of the first phase do not pick them up.
 */
const ALONE = ['test/**/*.serial-test.ts'];
const explicit = process.argv.slice(2);
const phases: { patterns: string[]; concurrency: string }[] = explicit.length
  ? [{ patterns: explicit, concurrency: process.env.TEST_CONCURRENCY ?? '4' }]
  : [
      {
        patterns: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'test/**/*.test.ts'],
        concurrency: process.env.TEST_CONCURRENCY ?? '4',
      },
      { patterns: ALONE, concurrency: '1' },
    ];

async function prepareTemplate(adminUrl: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${TEMPLATE}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${TEMPLATE}`;
  await migrateDatabase(url.toString());
}

/** Each test file made its own database (test/helpers/db.ts); remove them all. */
async function dropTestDatabases(url: string): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    const { rows } = await admin.query("SELECT datname FROM pg_database WHERE datname LIKE 'imgkit\\_t\\_%'");
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

let adminUrl = process.env.TEST_DATABASE_URL;
let stopEmbedded: (() => Promise<void>) | undefined;
let tmp: string | undefined;
if (!adminUrl) {
  tmp = await mkdtemp(path.join(tmpdir(), 'imgkit-test-pg-'));
  const port = await freePort();
  const server = await startEmbeddedPostgres({ dataDir: tmp, port, ephemeral: true });
  adminUrl = embeddedUrl(port);
  stopEmbedded = () => server.stop();
  process.stdout.write(`# embedded PostgreSQL on port ${port}\n`);
} else {
  process.stdout.write('# using TEST_DATABASE_URL\n');
}

const tapDir = await mkdtemp(path.join(tmpdir(), 'imgkit-test-tap-'));
const tapFiles: string[] = [];
let code = 0;
try {
  await prepareTemplate(adminUrl);
  for (const [i, phase] of phases.entries()) {
    const tapFile = path.join(tapDir, `phase-${i}.tap`);
    tapFiles.push(tapFile);
    if (i > 0) process.stdout.write(`# run alone: ${phase.patterns.join(' ')}\n`);
    code = Math.max(code, await runPhase(phase, tapFile));
  }
} finally {
  await dropTestDatabases(adminUrl).catch((err) =>
    process.stderr.write(`could not drop test databases: ${err}\n`),
  );
  await stopEmbedded?.();
  if (tmp) await rm(tmp, { recursive: true, force: true });
}
await printSkipped(tapFiles);
await rm(tapDir, { recursive: true, force: true });
process.exit(code);

function runPhase(phase: { patterns: string[]; concurrency: string }, tapFile: string): Promise<number> {
  return new Promise<number>((resolve) => {
    const child = spawn(
      process.execPath,
      [
        '--test',
        `--test-timeout=${process.env.TEST_TIMEOUT_MS ?? 300_000}`,
        '--test-reporter=spec',
        '--test-reporter-destination=stdout',
        '--test-reporter=tap',
        `--test-reporter-destination=${tapFile}`,
        `--test-concurrency=${phase.concurrency}`,
        ...phase.patterns,
      ],
      {
        stdio: 'inherit',
        env: {
          ...process.env,
          IMGKIT_TEST_ADMIN_URL: adminUrl,
          IMGKIT_TEST_TEMPLATE: TEMPLATE,
          LOG_LEVEL: 'silent',
        },
      },
    );
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  });
}

/** The run's skipped tests and why, so a skip is never silent. */
async function printSkipped(files: string[]): Promise<void> {
  const tap = (await Promise.all(files.map((f) => readFile(f, 'utf8').catch(() => '')))).join('\n');
  const skipped = tap
    .split('\n')
    .filter((line) => /^\s*ok \d+ - .* # SKIP/.test(line))
    .map((line) => line.replace(/^\s*ok \d+ - /, '').replace(' # SKIP', ' —'));
  process.stdout.write(
    `# skipped: ${skipped.length}${skipped.length ? `\n#   ${skipped.join('\n#   ')}` : ''}\n`,
  );
}
