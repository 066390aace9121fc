import assert from 'node:assert/strict';
import { test } from 'node:test';
import { digestApiKey, displayPrefix, generateApiKey, isWellFormedApiKey } from '@imgkit/auth';

test('keys are ik_live_ + 128 bits in base62 + a checksum', () => {
  const key = generateApiKey();
  assert.match(key, /^ik_live_[0-9A-Za-z]{28}$/);
  assert.ok(isWellFormedApiKey(key));
  assert.notEqual(generateApiKey(), key);
});

test('a typo breaks the checksum', () => {
  const key = generateApiKey();
  const i = 12;
  const typo = key.slice(0, i) + (key[i] === 'a' ? 'b' : 'a') + key.slice(i + 1);
  assert.ok(!isWellFormedApiKey(typo));
  assert.ok(!isWellFormedApiKey('ik_live_short'));
});

test('digest depends on the secret; the prefix reveals little', () => {
  const key = generateApiKey();
  assert.notDeepEqual(digestApiKey('a'.repeat(32), key), digestApiKey('b'.repeat(32), key));
  assert.equal(displayPrefix(key).length, 'ik_live_'.length + 5);
});
