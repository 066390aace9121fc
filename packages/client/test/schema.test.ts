import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const PKG = path.resolve(import.meta.dirname, '..');

test('src/schema.ts is what openapi-typescript makes of docs/openapi.json (run `npm run openapi`)', async () => {
  const out = path.join(await mkdtemp(path.join(tmpdir(), 'imgkit-client-')), 'schema.ts');
  await run(path.join(PKG, 'node_modules/.bin/openapi-typescript'), ['../../docs/openapi.json', '-o', out], {
    cwd: PKG,
  });
  assert.equal(await readFile(path.join(PKG, 'src/schema.ts'), 'utf8'), await readFile(out, 'utf8'));
});
