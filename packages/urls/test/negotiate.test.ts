import assert from 'node:assert/strict';
import { test } from 'node:test';
import { acceptClass, negotiateFormat, parseOptions, serializeOptions } from '@imgkit/urls';

const CHROMIUM = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8';
const SAFARI_17 =
  'image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5';
const SAFARI_15 = 'image/webp,image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5';
const FIREFOX = 'image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5';
const CURL = '*/*';

test('f:auto negotiates AVIF, then WebP, then the fallback; wildcards and q=0 do not count', () => {
  assert.equal(negotiateFormat(CHROMIUM, 'jpeg'), 'avif');
  assert.equal(negotiateFormat(FIREFOX, 'jpeg'), 'avif');
  assert.equal(negotiateFormat(SAFARI_17, 'jpeg'), 'avif');
  assert.equal(negotiateFormat(SAFARI_15, 'jpeg'), 'webp');
  assert.equal(negotiateFormat(CURL, 'jpeg'), 'jpeg');
  assert.equal(negotiateFormat(undefined, 'png'), 'png');
  assert.equal(negotiateFormat('image/*', 'png'), 'png');
  assert.equal(negotiateFormat('image/avif;q=0, image/webp', 'jpeg'), 'webp');
  assert.equal(negotiateFormat('IMAGE/AVIF', 'jpeg'), 'avif');
  assert.deepEqual([CHROMIUM, SAFARI_15, CURL].map(acceptClass), ['avif', 'webp', 'other']);
  // A hostile header is read in one bounded pass.
  assert.equal(negotiateFormat(`${'image/x;q=1,'.repeat(100_000)}image/avif`, 'jpeg'), 'jpeg');
});

test('f:auto is a canonical option between q and exp', () => {
  const text = serializeOptions({ keyId: '1', width: 200, quality: 80, format: 'auto', expires: 99 });
  assert.equal(text, 'k:1,w:200,q:80,f:auto,exp:99');
  assert.deepEqual(parseOptions(text), { keyId: '1', width: 200, quality: 80, format: 'auto', expires: 99 });
  assert.equal(parseOptions('k:1,f:webp'), undefined);
  assert.equal(parseOptions('k:1,exp:99,f:auto'), undefined, 'not canonical order');
});
