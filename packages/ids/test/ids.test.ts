import assert from 'node:assert/strict';
import { test } from 'node:test';
import { idTimestamp, isId, newId } from '@imgkit/ids';

test('ids carry their prefix and validate', () => {
  const id = newId('image');
  assert.match(id, /^img_[0-9A-Za-z]{27}$/);
  assert.ok(isId('image', id));
  assert.ok(!isId('account', id), 'wrong prefix');
  assert.ok(!isId('image', `${id}x`), 'too long');
  assert.ok(!isId('image', 'img_zzzzzzzzzzzzzzzzzzzzzzzzzzz'), 'overflows 20 bytes');
  assert.ok(!isId('image', 'img_../../etc/passwd'));
  assert.ok(!isId('image', 42));
});

test('ids sort by creation time', async () => {
  const a = newId('task');
  await new Promise((r) => setTimeout(r, 1100));
  const b = newId('task');
  assert.ok(Buffer.compare(Buffer.from(a), Buffer.from(b)) < 0);
  assert.ok(idTimestamp(a)! <= idTimestamp(b)!);
});

test('ids are encoded exactly as the ksuid package encodes them', async () => {
  const { randomBytes } = await import('node:crypto');
  const KSUID = (await import('ksuid')).default;
  const { ksuidString } = await import('@imgkit/ids');
  const payloads = [
    Buffer.alloc(16),
    Buffer.alloc(16, 0xff),
    ...Array.from({ length: 500 }, () => randomBytes(16)),
  ];
  const times = [14e11, Date.now(), 14e11 + (2 ** 32 - 1) * 1000, 1.7e12 + 999];
  for (const payload of payloads) {
    for (const time of times) {
      assert.equal(ksuidString(time, payload), KSUID.fromParts(time, payload).string);
    }
  }
  const ids = new Set(Array.from({ length: 2000 }, () => newId('image')));
  assert.equal(ids.size, 2000, 'pooled random bytes are never reused');
  for (const id of ids) assert.ok(isId('image', id));
});
