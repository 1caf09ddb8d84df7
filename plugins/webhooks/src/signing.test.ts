import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { generateWebhookSecret, signWebhook, verifyWebhookSignature, webhookHeaders } from './signing.ts';

const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const body = '{"specversion":"1.0","id":"e1","type":"com.atrium.api-key.created"}';
const now = 1_700_000_000;
const signed = (at = now, secrets = [secret], text = body) => webhookHeaders(secrets, 'msg_1', at, text);

test('the signature is the Standard Webhooks one: base64 HMAC-SHA256 of "id.timestamp.body" with the decoded key', () => {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key).update(`msg_1.${now}.${body}`).digest('base64');
  assert.equal(signWebhook(secret, 'msg_1', now, body), `v1,${expected}`);
  // The test vector published by the Standard Webhooks specification.
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

test('a genuine request verifies, with a Headers object or a plain record', () => {
  const headers = signed();
  assert.ok(verifyWebhookSignature(secret, headers, body, 300, now));
  assert.ok(verifyWebhookSignature(secret, new Headers(headers), Buffer.from(body), 300, now));
  assert.ok(
    verifyWebhookSignature(secret.slice('whsec_'.length), headers, body, 300, now),
    'the prefix is optional',
  );
});

test('a tampered body, another secret or another id is rejected', () => {
  const headers = signed();
  assert.equal(verifyWebhookSignature(secret, headers, body.replace('created', 'revoked'), 300, now), false);
  assert.equal(verifyWebhookSignature(generateWebhookSecret(), headers, body, 300, now), false);
  assert.equal(verifyWebhookSignature(secret, { ...headers, 'webhook-id': 'msg_2' }, body, 300, now), false);
});

test('a stale or future timestamp is rejected even with a valid signature', () => {
  assert.equal(verifyWebhookSignature(secret, signed(now - 301), body, 300, now), false);
  assert.equal(verifyWebhookSignature(secret, signed(now + 301), body, 300, now), false);
  assert.ok(verifyWebhookSignature(secret, signed(now - 299), body, 300, now));
  const moved = { ...signed(now - 1000), 'webhook-timestamp': String(now) };
  assert.equal(verifyWebhookSignature(secret, moved, body, 300, now), false, 'the timestamp is signed');
});

test('missing or malformed headers are rejected', () => {
  const headers = signed();
  for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const) {
    const { [name]: _dropped, ...rest } = headers;
    assert.equal(verifyWebhookSignature(secret, rest, body, 300, now), false, name);
  }
  assert.equal(
    verifyWebhookSignature(secret, { ...headers, 'webhook-timestamp': '1e9' }, body, 300, now),
    false,
  );
  const v2 = headers['webhook-signature'].replace(/^v1,/, 'v2,');
  assert.equal(
    verifyWebhookSignature(secret, { ...headers, 'webhook-signature': v2 }, body, 300, now),
    false,
  );
  assert.equal(
    verifyWebhookSignature(secret, { ...headers, 'webhook-signature': 'v1,' }, body, 300, now),
    false,
  );
});

test('with several signatures (a rotation) any one valid signature is enough', () => {
  const other = generateWebhookSecret();
  const headers = signed(now, [other, secret]);
  assert.equal(headers['webhook-signature'].split(' ').length, 2);
  assert.ok(verifyWebhookSignature(secret, headers, body, 300, now));
  assert.ok(verifyWebhookSignature(other, headers, body, 300, now));
  assert.equal(verifyWebhookSignature(generateWebhookSecret(), headers, body, 300, now), false);
});

test('generated secrets are whsec_ and 32 random bytes', () => {
  const a = generateWebhookSecret();
  assert.match(a, /^whsec_[A-Za-z0-9+/]{43}=$/);
  assert.equal(Buffer.from(a.slice(6), 'base64').length, 32);
  assert.notEqual(a, generateWebhookSecret());
});
