import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('../../', import.meta.url));

// What each process's main thread imports before it starts: every untrusted decode runs in the
// media pool's threads, which load sharp, exifr and libheif themselves; S3, undici and Sentry are
// loaded when configured or first used. A package loaded in the main thread as well costs memory
// in every process (sharp alone ~4.4 MB in the api), so this records the static import graph of
// each entry point: a resolve hook lists the packages, and the process exits at its configuration
// check (no SECRET_KEY in production), after every static import was loaded and before it starts.
// A media thread loads extraction (exifr, the hashes) on its first extraction, and never zod
// (~7.5 MB in each thread's isolate): its module is imported outside piscina, where it stops at
// its first use of the pool's shared buffers, after its static imports were loaded.
const probe = `
import { registerHooks } from 'node:module';
const seen = new Set();
registerHooks({
  resolve(spec, ctx, next) {
    const r = next(spec, ctx);
    const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(r.url);
    if (m) seen.add(m[1]);
    return r;
  },
});
process.on('exit', () => process.stdout.write(JSON.stringify([...seen])));
await import(process.argv[1]).catch((err) => {
  process.stderr.write(String(err));
  process.exit(70);
});
`;

async function packagesLoadedBy(entry: string, exitCode: number): Promise<string[]> {
  // The expected way out: 0, the configuration check (78, EX_CONFIG), or the thread module's
  // first use of the pool's buffers (70).
  const { code, stdout, stderr } = await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '-e', probe, `${root}${entry}`],
    { cwd: root, env: { PATH: process.env.PATH, NODE_ENV: 'production' } },
  ).then(
    (r) => ({ ...r, code: 0 }),
    (err: { code?: number; stdout?: string; stderr?: string }) => ({
      code: err.code,
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? '',
    }),
  );
  assert.equal(code, exitCode, `${entry} exited with ${code}: ${stderr}`);
  return JSON.parse(stdout);
}

for (const entry of ['apps/api/src/main.ts', 'apps/worker/src/main.ts']) {
  test(`${entry}: the main thread loads no decoder, S3 client, HTTP client or error reporter`, async () => {
    const packages = await packagesLoadedBy(entry, 78);
    assert.ok(packages.includes('pg') && packages.includes('piscina'), `probe saw ${packages.join(', ')}`);
    for (const heavy of ['sharp', 'exifr', 'heic-decode', '@aws-sdk/client-s3', 'undici', '@sentry/node']) {
      assert.ok(!packages.includes(heavy), `${entry} loads ${heavy} in its main thread`);
    }
  });
}

test('a media thread loads sharp, and neither zod nor extraction before its first extraction', async () => {
  const thread = await packagesLoadedBy('packages/media-pool/src/thread.ts', 70);
  assert.ok(thread.includes('sharp') && thread.includes('piscina'), `probe saw ${thread.join(', ')}`);
  for (const absent of ['zod', 'exifr', 'blurhash', 'heic-decode']) {
    assert.ok(!thread.includes(absent), `a media thread loads ${absent} at start`);
  }
  const extraction = await packagesLoadedBy('packages/media/src/extract.ts', 0);
  assert.ok(extraction.includes('exifr'), `probe saw ${extraction.join(', ')}`);
  assert.ok(!extraction.includes('zod'), 'extraction loads zod');
});
