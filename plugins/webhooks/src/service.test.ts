import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matchesEventType } from './service.ts';

test('an endpoint filter matches exact types, dotted prefixes and *', () => {
  assert.ok(matchesEventType(['*'], 'api-key.created'));
  assert.ok(matchesEventType(['profile.erased', 'api-key.created'], 'api-key.created'));
  assert.ok(matchesEventType(['api-key.*'], 'api-key.revoked'));
  assert.equal(matchesEventType(['api-key.*'], 'api-keys.revoked'), false);
  assert.equal(matchesEventType(['api-key.created'], 'api-key.revoked'), false);
  assert.equal(matchesEventType(['api-key'], 'api-key.created'), false);
});
