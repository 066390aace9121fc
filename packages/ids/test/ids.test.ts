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
