import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { printConfiguredSchema } from '@atrium/core/testing';
import { webchatPlugin } from './index.ts';

test('the committed Public schema with web chat matches the code (npm run schema:write -w @atrium/plugin-channel-webchat)', () => {
  const committed = readFileSync(new URL('../schema/public.graphql', import.meta.url), 'utf8');
  assert.equal(printConfiguredSchema([webchatPlugin()], 'public'), committed);
});

test('the Admin graph gains nothing from this plugin: visitors never reach it', () => {
  assert.equal(printConfiguredSchema([webchatPlugin()], 'admin'), printConfiguredSchema([], 'admin'));
});
