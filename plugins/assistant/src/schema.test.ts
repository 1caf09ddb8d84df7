import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { printConfiguredSchema } from '@atrium/core/testing';
import { assistantPlugin } from './index.ts';

for (const graph of ['admin', 'public'] as const) {
  test(`the committed ${graph} schema with the assistant matches the code (npm run schema:write -w @atrium/plugin-assistant)`, () => {
    const committed = readFileSync(new URL(`../schema/${graph}.graphql`, import.meta.url), 'utf8');
    assert.equal(printConfiguredSchema([assistantPlugin()], graph), committed);
  });
}
