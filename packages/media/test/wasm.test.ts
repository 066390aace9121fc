import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { assemble, watSources } from '../../../scripts/build-wasm.ts';

test('each committed .wasm is what its .wat source assembles to (run `npm run wasm`)', async () => {
  const sources = await watSources();
  assert.ok(sources.length > 0);
  for (const wat of sources) {
    const built = await assemble(wat);
    const committed = await readFile(wat.replace(/\.wat$/, '.wasm'));
    assert.ok(Buffer.from(built).equals(committed), `${path.basename(wat)}: the .wasm is stale`);
  }
});
