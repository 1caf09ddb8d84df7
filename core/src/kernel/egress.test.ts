import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertPublicHost, isObviouslyPrivate, isPrivateAddress } from './egress.ts';

test('loopback, private, link-local and unique-local addresses are private', () => {
  for (const a of [
    '127.0.0.1',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '::1',
    '::',
    'fd00::1',
    'fe80::1',
    '::ffff:127.0.0.1',
  ]) {
    assert.ok(isPrivateAddress(a), a);
  }
  for (const a of ['8.8.8.8', '172.32.0.1', '2001:4860:4860::8888', 'example.com']) {
    assert.equal(isPrivateAddress(a), false, a);
  }
});

test('localhost and literal private hosts are refused without DNS', async () => {
  for (const url of [
    'http://localhost:3000/',
    'http://api.localhost/',
    'http://[::1]/',
    'https://10.0.0.5/',
  ]) {
    assert.ok(isObviouslyPrivate(new URL(url)), url);
    await assert.rejects(assertPublicHost(new URL(url)), /private address/);
  }
  assert.equal(isObviouslyPrivate(new URL('https://hooks.example.com/')), false);
});
