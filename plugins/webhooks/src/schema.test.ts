import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { printConfiguredSchema } from '@atrium/core/testing';
import { webhooksPlugin } from './index.ts';

test('the committed Admin schema with webhooks matches the code (npm run schema:write -w @atrium/plugin-webhooks)', () => {
  const committed = readFileSync(new URL('../schema/admin.graphql', import.meta.url), 'utf8');
  assert.equal(printConfiguredSchema([webhooksPlugin()], 'admin'), committed);
});

test('the Public graph gains nothing from this plugin', () => {
  assert.equal(printConfiguredSchema([webhooksPlugin()], 'public'), printConfiguredSchema([], 'public'));
});
