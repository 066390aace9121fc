import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  onlyPresetOptions,
  parseOptions,
  renderingId,
  resolvePreset,
  serializeOptions,
  signPath,
  verifyPath,
} from '@imgkit/urls';

const KEY = 'k'.repeat(32);
const ID = 'img_2ZVt6mQjNqVr8hQpV9k1tq2C0aB';

function split(url: string) {
  const [, , signature, options, file] = url.split('/');
  return { signature, options, file };
}

test('options have one canonical form; anything else does not parse', () => {
  const o = { keyId: '1', width: 200, height: 100, fit: 'cover' as const, quality: 80 };
  const text = serializeOptions(o);
  assert.equal(text, 'k:1,w:200,h:100,fit:cover,q:80');
  assert.deepEqual(parseOptions(text), o);
  for (const bad of [
    'w:200,k:1',
    'k:1,w:0200',
    'k:1,w:200,w:300',
    'k:1,x:1',
    'k:1,q:101',
    '',
    'p:Thumb',
    'w:200,p:thumb',
    'k:1,v:1', // version 1 is written by leaving v out
    'v:2,w:10',
  ]) {
    assert.equal(parseOptions(bad), undefined, bad);
  }
  assert.deepEqual(parseOptions('p:thumbnail'), { preset: 'thumbnail' });
  assert.deepEqual(parseOptions('k:1,p:thumbnail,w:300,v:3,exp:99'), {
    keyId: '1',
    preset: 'thumbnail',
    width: 300,
    version: 3,
    expires: 99,
  });
});

test('a URL without k verifies against any accepted key, and only those', () => {
  const url = signPath(KEY, { preset: 'thumbnail' }, ID, 'jpg');
  assert.equal(url.split('/')[3], 'p:thumbnail');
  const { signature, options, file } = split(url);
  assert.equal(verifyPath({ old: 'o'.repeat(32), 1: KEY }, signature, options, file).ok, true);
  assert.deepEqual(verifyPath({ 1: 'x'.repeat(32) }, signature, options, file), {
    ok: false,
    status: 403,
    reason: 'bad signature',
  });
  assert.equal(verifyPath({}, signature, options, file).ok, false);
});

test('a preset expands under the URL’s own options; presets-only allows only p, k, v, exp', () => {
  const preset = { width: 200, height: 200, fit: 'cover' as const, format: 'auto' as const };
  assert.deepEqual(resolvePreset({ preset: 'sq', keyId: '1' }, preset), {
    width: 200,
    height: 200,
    fit: 'cover',
    format: 'auto',
    preset: 'sq',
    keyId: '1',
  });
  assert.equal(resolvePreset({ preset: 'sq', width: 50 }, preset).width, 50);
  // An extension as the preset's format is only a default for URLs the API makes.
  assert.equal(resolvePreset({ preset: 'sq' }, { width: 10, format: 'webp' }).format, undefined);
  assert.equal(onlyPresetOptions({ preset: 'sq', keyId: '1', version: 2, expires: 5 }), true);
  assert.equal(onlyPresetOptions({ preset: 'sq', width: 10 }), false);
  assert.equal(onlyPresetOptions({ preset: 'sq', format: 'auto' }), false);
  assert.equal(onlyPresetOptions({ keyId: '1' }), false);
});

test('a signed path verifies; a changed byte, an unknown or prototype key id, or a past expiry does not', () => {
  const url = signPath(KEY, { keyId: '1', width: 64 }, ID, 'webp');
  const { signature, options, file } = split(url);
  const ok = verifyPath({ 1: KEY }, signature, options, file);
  assert.equal(ok.ok, true);
  assert.equal(ok.ok && ok.format, 'webp');
  assert.deepEqual(verifyPath({ 1: KEY }, signature, options.replace('64', '65'), file), {
    ok: false,
    status: 403,
    reason: 'bad signature',
  });
  assert.equal(verifyPath({ 2: KEY }, signature, options, file).ok, false);
  const proto = signPath(KEY, { keyId: 'constructor', width: 64 }, ID, 'jpg');
  const p = split(proto);
  assert.deepEqual(verifyPath({ 1: KEY }, p.signature, p.options, p.file), {
    ok: false,
    status: 403,
    reason: 'unknown signing key',
  });
  const expiring = split(signPath(KEY, { keyId: '1', width: 64, expires: 1000 }, ID, 'jpg'));
  assert.equal(verifyPath({ 1: KEY }, expiring.signature, expiring.options, expiring.file, 999).ok, true);
  assert.deepEqual(verifyPath({ 1: KEY }, expiring.signature, expiring.options, expiring.file, 1001), {
    ok: false,
    status: 410,
    reason: 'the URL has expired',
  });
});

test('the rendering id ignores the key and expiry, not the output options', () => {
  const a = renderingId('c'.repeat(64), { keyId: '1', width: 64 }, 'webp');
  assert.equal(a, renderingId('c'.repeat(64), { keyId: '2', width: 64, expires: 5 }, 'webp'));
  assert.notEqual(a, renderingId('c'.repeat(64), { keyId: '1', width: 65 }, 'webp'));
  assert.notEqual(a, renderingId('c'.repeat(64), { keyId: '1', width: 64 }, 'avif'));
  // The image's current rendition version, not the one in the URL, decides.
  assert.equal(a, renderingId('c'.repeat(64), { width: 64, version: 2, preset: 'x' }, 'webp', 1));
  assert.notEqual(a, renderingId('c'.repeat(64), { width: 64 }, 'webp', 2));
});
