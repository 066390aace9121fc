import assert from 'node:assert/strict';
import { test } from 'node:test';
import { idTimestamp, isId, newId, nextKsuid } from '@imgkit/ids';
import KSUID from 'ksuid';

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

/** A KSUID's 16-byte payload as one number. */
function payloadOf(body: string): bigint {
  return BigInt(`0x${KSUID.parse(body).payload.toString('hex')}`);
}

test('ids made by one process ascend, also within one second, by unguessable steps', () => {
  const ids = Array.from({ length: 20_000 }, () => newId('task'));
  const before = Math.floor(Date.now() / 1000);
  for (let i = 1; i < ids.length; i++) {
    assert.ok(ids[i - 1] < ids[i], `${ids[i - 1]} < ${ids[i]}`);
    assert.ok(isId('task', ids[i]));
  }
  const steps = new Set<bigint>();
  for (let i = 1; i < ids.length; i++) {
    const [a, b] = [ids[i - 1].slice(4), ids[i].slice(4)];
    if (KSUID.parse(a).timestamp !== KSUID.parse(b).timestamp) continue; // a new second: fresh payload
    const step = payloadOf(b) - payloadOf(a);
    assert.ok(step >= 1n && step <= 2n ** 32n, `step ${step}`);
    steps.add(step);
  }
  assert.ok(steps.size > 19_000, `steps are random (${steps.size} distinct)`);
  assert.ok(Math.abs(idTimestamp(ids.at(-1)!)!.getTime() / 1000 - before) <= 1, 'timestamp is now');
});

test('a clock that steps back keeps ids ascending, on the last second, until it catches up', () => {
  const ahead = Date.now() + 3000;
  const a = nextKsuid(ahead);
  const b = nextKsuid(Date.now()); // the clock "stepped back" three seconds
  assert.ok(a < b);
  assert.equal(KSUID.parse(b).timestamp, KSUID.parse(a).timestamp);
  const c = nextKsuid(ahead + 1000);
  assert.ok(b < c);
  assert.equal(KSUID.parse(c).timestamp, KSUID.parse(a).timestamp + 1);
});
