import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import type { WebhookRequest } from '@atrium/core';
import { inboundMailHeaders, signInboundMail, TOLERANCE_SECONDS, verifyInboundMail } from './signing.ts';

const secret = 'chs_test-secret';
const body = Buffer.from('From: ann@example.com\r\n\r\nhello\r\n');
const now = 1_750_000_000;
const request = (headers: Record<string, string>, raw = body): WebhookRequest => ({
  method: 'POST',
  headers,
  query: {},
  rawBody: raw,
});
const refused = (fn: () => void, message: RegExp) =>
  assert.throws(fn, (error: { code?: string; message: string }) => {
    assert.equal(error.code, 'WEBHOOK_SIGNATURE_INVALID');
    assert.match(error.message, message);
    return true;
  });

test('the signature is the hex HMAC-SHA256 of "<timestamp>.<body>" with the inbox secret', () => {
  const expected = createHmac('sha256', secret).update(`${now}.`).update(body).digest('hex');
  assert.equal(signInboundMail(secret, now, body), `sha256=${expected}`);
  verifyInboundMail(request(inboundMailHeaders(secret, body, now)), secret, now);
  // Uppercase hex (some tools print it) is the same signature.
  const headers = inboundMailHeaders(secret, body, now);
  headers['x-atrium-signature'] = `sha256=${expected.toUpperCase()}`;
  verifyInboundMail(request(headers), secret, now);
});

test('a missing, wrong, or foreign signature is refused', () => {
  refused(() => verifyInboundMail(request({}), secret, now), /sign the mail/);
  refused(
    () => verifyInboundMail(request(inboundMailHeaders('chs_other', body, now)), secret, now),
    /does not match/,
  );
  refused(
    () =>
      verifyInboundMail(
        request(inboundMailHeaders(secret, body, now), Buffer.concat([body, Buffer.from(' ')])),
        secret,
        now,
      ),
    /does not match/,
  );
  refused(
    () =>
      verifyInboundMail(
        request({ 'x-atrium-timestamp': `${now}`, 'x-atrium-signature': 'sha256=00' }),
        secret,
        now,
      ),
    /does not match/,
  );
  refused(
    () =>
      verifyInboundMail(
        request({ 'x-atrium-timestamp': 'yesterday', 'x-atrium-signature': 'x' }),
        secret,
        now,
      ),
    /Unix seconds/,
  );
});

test('a timestamp more than five minutes away, either way, is refused', () => {
  const at = (t: number) => request(inboundMailHeaders(secret, body, t));
  verifyInboundMail(at(now - TOLERANCE_SECONDS), secret, now);
  verifyInboundMail(at(now + TOLERANCE_SECONDS), secret, now);
  refused(
    () => verifyInboundMail(at(now - TOLERANCE_SECONDS - 1), secret, now),
    /seconds from the server's clock/,
  );
  refused(
    () => verifyInboundMail(at(now + TOLERANCE_SECONDS + 1), secret, now),
    /seconds from the server's clock/,
  );
});
