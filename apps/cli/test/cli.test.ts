import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { authenticateApiKey } from '@imgkit/auth';
import { TEST_SECRET } from '../../../test/helpers/api.ts';
import { freshDatabase } from '../../../test/helpers/db.ts';

const run = promisify(execFile);
const db = await freshDatabase();
const env = { ...process.env, DATABASE_URL: db.url, SECRET_KEY: TEST_SECRET, URL_SIGNING_KEY: TEST_SECRET };

async function imgkit(...args: string[]) {
  const { stdout } = await run(process.execPath, ['apps/cli/bin/imgkit.js', ...args, '--json'], { env });
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 1, `exactly one JSON line: ${stdout}`);
  return JSON.parse(lines[0]);
}

test('accounts and keys: create, list, revoke, each printing one JSON object', async () => {
  const created = await imgkit('accounts', 'create', '--name', 'Acme');
  assert.match(created.account.id, /^acc_/);
  assert.match(created.key, /^ik_live_/);
  assert.equal((await authenticateApiKey(db.pool, TEST_SECRET, created.key)).ok, true);

  const list = await imgkit('accounts', 'list');
  assert.ok(list.accounts.some((a: { id: string }) => a.id === created.account.id));

  const second = await imgkit('keys', 'create', '--account', created.account.id, '--name', 'ci');
  assert.match(second.key, /^ik_live_/);
  const keys = await imgkit('keys', 'list', '--account', created.account.id);
  assert.equal(keys.keys.length, 2);
  assert.ok(!JSON.stringify(keys).includes(second.key), 'listing never shows a key');

  const revoked = await imgkit('keys', 'revoke', second.key_record.id);
  assert.ok(revoked.key_record.revoked_at);
  const auth = await authenticateApiKey(db.pool, TEST_SECRET, second.key);
  assert.deepEqual(auth, { ok: false, reason: 'revoked' });
});

test('usage errors exit 2 with a JSON error under --json', async () => {
  await assert.rejects(
    run(process.execPath, ['apps/cli/bin/imgkit.js', 'keys', 'create', '--json'], { env }),
    (err: { code: number; stdout: string }) =>
      err.code === 2 && JSON.parse(err.stdout).error.message.includes('--account'),
  );
});

test('migrate reports an up-to-date database', async () => {
  const out = await imgkit('migrate');
  assert.deepEqual(out.applied, []);
});

test('sign-url prints a URL the verifier accepts', async () => {
  const { verifyPath } = await import('@imgkit/urls');
  const id = 'img_3MRvmsIg0DHgU78lo3y9bXv5Tl4';
  const out = await imgkit(
    'sign-url',
    id,
    '--width',
    '200',
    '--height',
    '200',
    '--fit',
    'cover',
    '--format',
    'webp',
  );
  const [, , sig, opts, file] = out.url.split('/');
  assert.equal(opts, 'k:1,w:200,h:200,fit:cover');
  assert.ok(verifyPath({ '1': TEST_SECRET }, sig, opts, file).ok);
});

test('sign-url signs presets (with the rendition version after a purge); presets-only refuses options', async () => {
  const { verifyPath } = await import('@imgkit/urls');
  const id = 'img_3MRvmsIg0DHgU78lo3y9bXv5Tl4';
  const out = await imgkit('sign-url', id, '--preset', 'thumbnail', '--rendition-version', '3');
  const [, , sig, opts, file] = out.url.split('/');
  assert.equal(opts, 'k:1,p:thumbnail,v:3');
  assert.equal(file, `${id}.jpg`);
  assert.ok(verifyPath({ '1': TEST_SECRET }, sig, opts, file).ok);
  await assert.rejects(imgkit('sign-url', id, '--preset', 'poster'), (err: { stdout: string }) =>
    /--preset must be one of/.test(err.stdout),
  );
  const only = { ...env, SIGNED_URLS_PRESETS_ONLY: 'true' };
  await assert.rejects(
    run(process.execPath, ['apps/cli/bin/imgkit.js', 'sign-url', id, '--width', '10', '--json'], {
      env: only,
    }),
    (err: { code: number; stdout: string }) =>
      err.code === 2 && JSON.parse(err.stdout).error.message.includes('SIGNED_URLS_PRESETS_ONLY'),
  );
});

test('accounts rules shows and merge-patches intake rules, validated as the API does', async () => {
  const created = await imgkit('accounts', 'create', '--name', 'Rules');
  const id = created.account.id;
  assert.deepEqual((await imgkit('accounts', 'rules', id)).intake_rules, {});
  const set = await imgkit('accounts', 'rules', id, '--set', '{"allowed_formats":["jpeg"],"max_width":4000}');
  assert.deepEqual(set.intake_rules, { allowed_formats: ['jpeg'], max_width: 4000 });
  const patched = await imgkit('accounts', 'rules', id, '--set', '{"max_width":null,"allow_animated":false}');
  assert.deepEqual(patched.intake_rules, { allowed_formats: ['jpeg'], allow_animated: false });
  await assert.rejects(
    imgkit('accounts', 'rules', id, '--set', '{"min_width":10,"max_width":5}'),
    (err: { stdout: string }) => /min_width must not exceed max_width/.test(err.stdout),
  );
  assert.deepEqual((await imgkit('accounts', 'rules', id)).intake_rules, {
    allowed_formats: ['jpeg'],
    allow_animated: false,
  });
});
