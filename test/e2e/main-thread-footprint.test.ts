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
await import(process.argv[1]);
`;

async function mainThreadPackages(entry: string): Promise<string[]> {
  const result = await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '-e', probe, `${root}${entry}`],
    { cwd: root, env: { PATH: process.env.PATH, NODE_ENV: 'production' } },
  ).catch((err: { code?: number; stdout?: string; stderr?: string }) => {
    // The expected way out: the configuration check (EX_CONFIG).
    assert.equal(err.code, 78, `${entry} exited with ${err.code}: ${err.stderr}`);
    return { stdout: err.stdout ?? '' };
  });
  return JSON.parse(result.stdout);
}

for (const entry of ['apps/api/src/main.ts', 'apps/worker/src/main.ts']) {
  test(`${entry}: the main thread loads no decoder, S3 client, HTTP client or error reporter`, async () => {
    const packages = await mainThreadPackages(entry);
    assert.ok(packages.includes('pg') && packages.includes('piscina'), `probe saw ${packages.join(', ')}`);
    for (const heavy of ['sharp', 'exifr', 'heic-decode', '@aws-sdk/client-s3', 'undici', '@sentry/node']) {
      assert.ok(!packages.includes(heavy), `${entry} loads ${heavy} in its main thread`);
    }
  });
}
