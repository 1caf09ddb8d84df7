import assert from 'node:assert/strict';
import { test } from 'node:test';
import { userHashOf, verifyUserHash } from './identity.ts';
import { greetingFor, parseInboxSettings } from './settings.ts';

test('inbox settings: origins exactly, greetings per locale, verification on by default', () => {
  const settings = parseInboxSettings({
    allowedOrigins: ['https://shop.example', 'http://localhost:3000/'],
    greeting: { de: ' Hallo! ', en: 'Hello!' },
  });
  assert.deepEqual(settings, {
    allowedOrigins: ['https://shop.example', 'http://localhost:3000'],
    greeting: { de: 'Hallo!', en: 'Hello!' },
    requireIdentityVerification: true,
  });
  for (const [bad, field] of [
    [{ allowedOrigins: ['https://shop.example/chat'] }, 'allowedOrigins[0]'],
    [{ allowedOrigins: ['ftp://shop.example'] }, 'allowedOrigins[0]'],
    [{ allowedOrigins: 'https://shop.example' }, 'allowedOrigins'],
    [{ greeting: { German: 'Hallo' } }, 'greeting'],
    [{ greeting: { de: '' } }, 'greeting'],
    [{ requireIdentityVerification: 'yes' }, 'requireIdentityVerification'],
  ] as const) {
    assert.throws(() => parseInboxSettings(bad as Record<string, unknown>), { field }, JSON.stringify(bad));
  }
});

test('the greeting falls back from de-CH to de, then to English', () => {
  const settings = parseInboxSettings({ greeting: { de: 'Hallo!', en: 'Hello!' } });
  assert.equal(greetingFor(settings, 'de-CH'), 'Hallo!');
  assert.equal(greetingFor(settings, 'fr'), 'Hello!');
  assert.equal(greetingFor(parseInboxSettings({}), 'de'), null);
});

test('the user hash is HMAC-SHA256 of the user id with the inbox secret, compared in constant time', () => {
  // The value a backend gets from: echo -n 'user-42' | openssl dgst -sha256 -hmac 'chs_secret'
  const hash = userHashOf('user-42', 'chs_secret');
  assert.equal(hash, '151aeb98e7a8f78d6e4489ebf92622970d01accf6498834ae69c912725d309c5');
  assert.ok(verifyUserHash('user-42', hash.toUpperCase(), 'chs_secret'));
  assert.ok(!verifyUserHash('user-43', hash, 'chs_secret'));
  assert.ok(!verifyUserHash('user-42', hash, 'another secret'));
  assert.ok(!verifyUserHash('user-42', 'not hex', 'chs_secret'));
});
