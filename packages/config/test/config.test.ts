import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '@imgkit/config';
import { GRAVITIES } from '@imgkit/media';

const secrets = { secretKey: 's'.repeat(32), urlSigningKey: 'u'.repeat(32) };

test('defaults are safe and complete', () => {
  const c = loadConfig({}, secrets);
  assert.equal(c.PORT, 8080);
  assert.equal(c.FETCH_ALLOW_PRIVATE_NETWORKS, false);
  assert.equal(c.MAX_INPUT_PIXELS, 100_000_000);
  assert.equal(c.embeddedDatabase, true);
  assert.ok(Object.isFrozen(c));
});

test('a bad value names the variable and the reason in one line', () => {
  for (const [env, name] of [
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ FETCH_ALLOW_PRIVATE_NETWORKS: 'maybe' }, 'FETCH_ALLOW_PRIVATE_NETWORKS'],
    [{ STORAGE: 'ftp' }, 'STORAGE'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
  ] as const) {
    assert.throws(
      () => loadConfig(env, secrets),
      (err: Error) => err instanceof ConfigError && err.message.includes(name) && !err.message.includes('\n'),
    );
  }
});

test('production requires real secrets', () => {
  assert.throws(() => loadConfig({ NODE_ENV: 'production' }, secrets), /SECRET_KEY/);
  const c = loadConfig({
    NODE_ENV: 'production',
    SECRET_KEY: 'k'.repeat(40),
    URL_SIGNING_KEY: 'u'.repeat(40),
  });
  assert.equal(c.secretKey, 'k'.repeat(40));
});

test('S3 storage needs a bucket and a region or endpoint; keys come in pairs; redirects need S3', () => {
  assert.throws(() => loadConfig({ STORAGE: 's3' }, secrets), /S3_BUCKET/);
  assert.throws(() => loadConfig({ STORAGE: 's3', S3_BUCKET: 'b' }, secrets), /S3_REGION/);
  const c = loadConfig({ STORAGE: 's3', S3_BUCKET: 'b', S3_ENDPOINT: 'http://127.0.0.1:9000' }, secrets);
  assert.equal(c.STORAGE, 's3');
  assert.equal(c.ORIGINALS_DELIVERY, 'proxy');
  assert.throws(
    () =>
      loadConfig({ STORAGE: 's3', S3_BUCKET: 'b', S3_REGION: 'eu-west-1', S3_ACCESS_KEY_ID: 'AK' }, secrets),
    /S3_SECRET_ACCESS_KEY/,
  );
  assert.throws(() => loadConfig({ ORIGINALS_DELIVERY: 'redirect' }, secrets), /needs STORAGE=s3/);
  assert.throws(
    () => loadConfig({ STORAGE: 's3', S3_BUCKET: 'b', S3_REGION: 'x', S3_KEY_PREFIX: '../x' }, secrets),
    /S3_KEY_PREFIX/,
  );
});

test('an invalid secret is named but its value never printed (the message goes to the journal)', () => {
  const cases: [Record<string, string>, string, string][] = [
    [{ SECRET_KEY: 'short-but-secret-value' }, 'SECRET_KEY', 'short-but-secret-value'],
    [{ URL_SIGNING_KEY: 'hunter2-signing' }, 'URL_SIGNING_KEY', 'hunter2-signing'],
    [{ SENTRY_DSN: 'not a url but secret-token' }, 'SENTRY_DSN', 'secret-token'],
    [{ URL_SIGNING_OLD_KEYS: 'a=tooshort-secret' }, 'URL_SIGNING_OLD_KEYS', 'tooshort-secret'],
    [{ DATABASE_URL: 'mysql://admin:s3cr3t-pw@db/x' }, 'DATABASE_URL', 's3cr3t-pw'],
  ];
  for (const [env, name, secret] of cases) {
    assert.throws(
      () => loadConfig(env, secrets),
      (err: Error) => err.message.includes(name) && !err.message.includes(secret),
      name,
    );
  }
});

test('.env.example and the deploy env example load as they are (an empty value means the default)', async () => {
  const { readFile } = await import('node:fs/promises');
  for (const file of ['../../../.env.example', '../../../deploy/imgkit.env.example']) {
    const env: Record<string, string> = {};
    for (const line of (await readFile(new URL(file, import.meta.url), 'utf8')).split('\n')) {
      const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
      if (m) env[m[1]] = m[2];
    }
    const c = loadConfig({ ...env, SECRET_KEY: 'k'.repeat(40), URL_SIGNING_KEY: 'u'.repeat(40) }, secrets);
    assert.ok(c.WORKER_CONCURRENCY >= 1, file);
    assert.ok(c.MEDIA_THREADS >= 1, file);
  }
});

test('signed-URL presets: the variant sizes by default, else JSON from the variable or a file', async () => {
  assert.deepEqual(loadConfig({}, secrets).urlPresets, {
    thumbnail: { width: 100 },
    medium: { width: 500 },
    large: { width: 1000 },
  });
  const json = '{"card":{"width":400,"height":300,"fit":"cover","gravity":"attention","format":"auto"}}';
  assert.deepEqual(loadConfig({ SIGNED_URLS_PRESETS: json }, secrets).urlPresets, {
    card: { width: 400, height: 300, fit: 'cover', gravity: 'attention', format: 'auto' },
  });
  const dir = await mkdtemp(path.join(tmpdir(), 'imgkit-presets-'));
  const file = path.join(dir, 'presets.json');
  await writeFile(file, '{"avatar":{"width":64,"height":64,"fit":"cover","format":"webp"}}');
  assert.equal(loadConfig({ SIGNED_URLS_PRESETS_FILE: file }, secrets).urlPresets.avatar.format, 'webp');
  assert.equal(loadConfig({ SIGNED_URLS_PRESETS_ONLY: 'true' }, secrets).SIGNED_URLS_PRESETS_ONLY, true);
  for (const env of [
    { SIGNED_URLS_PRESETS: 'thumbnail:100' },
    { SIGNED_URLS_PRESETS: '{"Bad Name":{"width":1}}' },
    { SIGNED_URLS_PRESETS: '{"x":{"width":0}}' },
    { SIGNED_URLS_PRESETS: '{"x":{"fit":"cover"}}' },
    { SIGNED_URLS_PRESETS: '{"x":{"width":10,"gravity":"up"}}' },
    { SIGNED_URLS_PRESETS: '{"x":{"width":10,"blur":3}}' },
    { SIGNED_URLS_PRESETS_FILE: path.join(dir, 'missing.json') },
    { SIGNED_URLS_PRESETS: json, SIGNED_URLS_PRESETS_FILE: file },
  ]) {
    assert.throws(
      () => loadConfig(env, secrets),
      (err: Error) => err instanceof ConfigError && /SIGNED_URLS_PRESETS/.test(err.message),
      JSON.stringify(env),
    );
  }
});

test('the gravities a preset may name are the ones the renderer knows', () => {
  const json = (g: string) => `{"x":{"width":10,"gravity":"${g}"}}`;
  for (const g of GRAVITIES) loadConfig({ SIGNED_URLS_PRESETS: json(g) }, secrets);
  assert.throws(() => loadConfig({ SIGNED_URLS_PRESETS: json('middle') }, secrets));
});
