import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { validateSchema } from 'graphql';
import { createLogger } from '../kernel/logger.ts';
import { loadModules } from '../kernel/module-host.ts';
import { coreModules } from '../modules/index.ts';
import { printConfiguredSchema } from './print.ts';
import { buildSchemas } from './schema.ts';

const committed = (graph: string) =>
  readFileSync(new URL(`../../schema/${graph}.graphql`, import.meta.url), 'utf8');

for (const graph of ['admin', 'public'] as const) {
  test(`the committed ${graph} schema matches the code (npm run schema:write -w @atrium/core)`, () => {
    assert.equal(printConfiguredSchema([], graph), committed(graph));
  });
}

test('both sub-graphs are valid GraphQL schemas', () => {
  const modules = loadModules(coreModules, []);
  const runtime = { name: 'x', config: undefined, logger: createLogger('silent') } as never;
  const schemas = buildSchemas(modules, () => runtime, {
    maxDepth: 12,
    maxComplexity: 2000,
    maxBreadth: 200,
  });
  assert.deepEqual(validateSchema(schemas.admin), []);
  assert.deepEqual(validateSchema(schemas.public), []);
});

test('the public graph exposes no admin-only field', () => {
  const sdl = committed('public');
  for (const adminOnly of ['apiKeys', 'createApiKey', 'eventDeliveries', 'retryEventDelivery', 'node(']) {
    assert.ok(!sdl.includes(adminOnly), `${adminOnly} must not be in the public graph`);
  }
  assert.match(sdl, /viewer: Viewer!/);
});
