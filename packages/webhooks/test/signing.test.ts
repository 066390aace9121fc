import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateWebhookSecret, signatureHeader, signWebhook, verifyWebhook } from '@imgkit/webhooks';
import { Webhook } from 'standardwebhooks';

test('the Standard Webhooks published test vector', () => {
  assert.equal(
    signWebhook(
      'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      'msg_p5jXN8AQM9LWM0D4loKWxJek',
      1614265330,
      '{"test": 2432232314}',
    ),
    'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
  );
});

test('secrets are whsec_ + base64 of 32 random bytes, and the reference library verifies our signatures', () => {
  const secret = generateWebhookSecret();
  assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  assert.equal(Buffer.from(secret.slice(6), 'base64').length, 32);
  const body = '{"type":"ping","data":{}}';
  const ts = Math.floor(Date.now() / 1000);
  const headers = {
    'webhook-id': 'msg_x',
    'webhook-timestamp': String(ts),
    'webhook-signature': signatureHeader([secret, generateWebhookSecret()], 'msg_x', ts, body),
  };
  assert.deepEqual(new Webhook(secret).verify(body, headers), JSON.parse(body));
  assert.ok(verifyWebhook(secret, 'msg_x', ts, body, headers['webhook-signature']));
  assert.ok(!verifyWebhook(generateWebhookSecret(), 'msg_x', ts, body, headers['webhook-signature']));
});
