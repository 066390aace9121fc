import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { openApiJson } from '@imgkit/api/openapi';
import { startApi } from '../../../test/helpers/api.ts';
import { freshDatabase } from '../../../test/helpers/db.ts';

test('docs/openapi.json is what the code generates (run `npm run openapi` after changing schemas)', async () => {
  const committed = await readFile(new URL('../../../docs/openapi.json', import.meta.url), 'utf8');
  assert.equal(committed, openApiJson());
});

test('the document describes every route, and /docs is served without a CDN', async () => {
  const doc = JSON.parse(openApiJson());
  assert.equal(doc.openapi, '3.1.0');
  for (const path of ['/v1/images', '/v1/images/{id}', '/v1/images/{id}/original', '/healthz', '/readyz']) {
    assert.ok(doc.paths[path], path);
  }
  const db = await freshDatabase();
  const api = await startApi(db.pool);
  const served = await fetch(`${api.base}/openapi.json`);
  assert.deepEqual(await served.json(), doc);
  const page = await (await fetch(`${api.base}/docs`)).text();
  assert.ok(!/https?:\/\//.test(page.replace(/<!doctype[^>]*>/i, '')), 'no external URLs');
  const asset = await fetch(`${api.base}/docs/assets/swagger-ui-bundle.js`);
  assert.equal(asset.status, 200);
});
