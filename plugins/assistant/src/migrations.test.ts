import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { schemaDrift } from '@atrium/core';
import { createTestEnvironment, type TestEnvironment } from '@atrium/core/testing';
import { assistantPlugin } from './index.ts';

let env: TestEnvironment;
before(async () => {
  env = await createTestEnvironment({ plugins: [assistantPlugin()] });
});
after(() => env?.destroy());

test('the migrations create exactly what the entities describe', async () => {
  assert.equal(await schemaDrift(env.atrium.orm), '');
});
