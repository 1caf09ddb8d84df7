import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WORKSPACE_FILTER } from '../db/orm.ts';
import { loadConfig } from '../kernel/config.ts';
import type { AtriumPlugin } from '../kernel/plugin.ts';
import { openCustomerSession } from '../modules/customer-sessions/service.ts';
import { authorizationMatrix } from '../testing/fixtures/authorization-matrix.ts';
import { unprotectedFieldPlugin } from '../testing/fixtures/unprotected-field-plugin.ts';
import {
  type AuthorizationMatrix,
  buildConfiguredSchemas,
  type Caller,
  checkAuthorizationMatrix,
  createTestEnvironment,
  type TestEnvironment,
} from '../testing/index.ts';

// The deployment's plugins: the matrix covers what the repository ships, not the core alone.
const { plugins } = await loadConfig({}, resolve(import.meta.dirname, '../../..'));

async function check(
  env: TestEnvironment,
  pluginList: AtriumPlugin[],
  matrix: AuthorizationMatrix,
  probeOnly?: (key: string) => boolean,
) {
  const demoId = (await env.workspace('demo')).id;
  return checkAuthorizationMatrix({
    schemas: buildConfiguredSchemas(pluginList),
    matrix,
    url: env.url,
    probeOnly,
    async headersFor(caller: Caller): Promise<Record<string, string>> {
      if (caller === 'anonymous') return {};
      if (caller !== 'customer') return { authorization: `Bearer ${env.token(caller)}` };
      // A fresh session per call: `endCustomerSession` ends the one it is called with.
      const { token } = await env.atrium.orm.em.fork().transactional((em) => {
        em.setFilterParams(WORKSPACE_FILTER, { id: demoId });
        return openCustomerSession(em, { workspaceId: demoId, issuedBy: 'matrix-test', ttlHours: 1 });
      });
      return { authorization: `Bearer ${token}` };
    },
  });
}

describe('authorization matrix: every root field of both graphs, called as every caller', () => {
  let env: TestEnvironment;
  before(async () => {
    env = await createTestEnvironment({ plugins });
  });
  after(() => env?.destroy());

  test('each field answers each caller as core/src/testing/fixtures/authorization-matrix.ts decides', async () => {
    const problems = await check(env, plugins, authorizationMatrix);
    assert.deepEqual(problems, [], `\n${problems.join('\n')}`);
  });
});

describe('the matrix fails loudly on a field without a scope decision (fixture plugin)', () => {
  let env: TestEnvironment;
  const withFixture = [...plugins, unprotectedFieldPlugin()];
  before(async () => {
    env = await createTestEnvironment({ plugins: withFixture });
  });
  after(() => env?.destroy());

  test('a new field with no entry fails, and an entry that says "admin only" shows everyone got in', async () => {
    const fixtureOnly = (key: string) => key === 'Mutation.purgeEverything';
    const missing = await check(env, withFixture, authorizationMatrix, fixtureOnly);
    assert.deepEqual(missing, [
      'admin graph: Mutation.purgeEverything has no entry in the authorization matrix: decide which callers may call it',
    ]);
    const declared: AuthorizationMatrix = {
      ...authorizationMatrix,
      admin: { ...authorizationMatrix.admin, 'Mutation.purgeEverything': ['admin'] },
    };
    // Only the fixture's field is called here (entries are checked for all); the full run is above.
    const leaks = await check(env, withFixture, declared, fixtureOnly);
    assert.deepEqual(
      leaks,
      ['editor', 'reviewer', 'agent', 'analyst', 'viewer', 'reader', 'anonymous'].map(
        (caller) => `admin graph: Mutation.purgeEverything as ${caller}: expected refused, was allowed`,
      ),
    );
  });
});
