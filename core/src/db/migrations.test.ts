import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { probePlugin } from '../testing/fixtures/probe-plugin.ts';
import { createTestEnvironment, type TestEnvironment } from '../testing/index.ts';
import { migrate } from './orm.ts';
import { schemaDrift } from './schema-drift.ts';

let env: TestEnvironment;
before(async () => {
  env = await createTestEnvironment({ plugins: [probePlugin({})] });
});
after(() => env?.destroy());

test('migrations of core and plugins produce exactly the schema the entities describe', async () => {
  assert.equal(await schemaDrift(env.atrium.orm), '', 'write a migration: npm run db:diff -w @atrium/core');
});

test('migrating again is a no-op', async () => {
  assert.deepEqual(await migrate(env.atrium.orm), []);
});
