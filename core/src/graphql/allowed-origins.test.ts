import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApiKey } from '../modules/api-keys/entities.ts';
import { createTestEnvironment, type TestEnvironment } from '../testing/index.ts';

// Per-workspace allowed origins, over real HTTP: a browser page from an origin the workspace does
// not list is refused before anything runs, and its answer carries no Access-Control-Allow-Origin.

const SHOP = 'https://shop.example';
const EVIL = 'https://evil.example';
const UPDATE = `mutation ($origins: [String!]) {
  updateWorkspaceSecurity(input: { allowedOrigins: $origins }) {
    __typename
    ... on UpdateWorkspaceSecurityPayload { workspace { allowedOrigins } }
    ... on ValidationError { field message }
  }
}`;

let env: TestEnvironment;
before(async () => {
  env = await createTestEnvironment();
});
after(() => env?.destroy());

const admin = (slug = 'demo') => env.adminClient.withToken(env.token('admin', slug));

async function call(path: string, query: string, headers: Record<string, string>) {
  const response = await fetch(`${env.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify({ query }),
  });
  const body = (await response.json()) as { data?: any; errors?: { message: string; extensions?: any }[] };
  return { status: response.status, headers: response.headers, ...body };
}

describe('allowed origins per workspace', () => {
  test('origins must be scheme://host[:port]; a bad list changes nothing', async () => {
    for (const bad of [
      'https://shop.example/app',
      'shop.example',
      'ftp://shop.example',
      'https://*.example',
    ]) {
      const result = await admin().ok(UPDATE, { origins: [SHOP, bad] });
      assert.equal(result.updateWorkspaceSecurity.__typename, 'ValidationError', bad);
      assert.equal(result.updateWorkspaceSecurity.field, 'allowedOrigins.1');
    }
    const current = await admin().ok('{ viewer { workspace { allowedOrigins } } }');
    assert.deepEqual(current.viewer.workspace.allowedOrigins, []);
  });

  test('an admin lists origins; they are stored as browsers send them', async () => {
    const result = await admin().ok(UPDATE, { origins: ['HTTPS://Shop.Example:443/', SHOP] });
    assert.deepEqual(result.updateWorkspaceSecurity.workspace.allowedOrigins, [SHOP]);
    const viewer = await env.adminClient
      .withToken(env.token('viewer'))
      .query('{ viewer { workspace { allowedOrigins } } }');
    assert.equal(viewer.errors?.[0]?.extensions?.code, 'FORBIDDEN', 'only admins read the list');
  });

  test('a listed origin is answered with Access-Control-Allow-Origin, on both graphs', async () => {
    for (const path of ['/graphql', '/public/graphql']) {
      const allowed = await call(path, '{ viewer { kind } }', {
        origin: SHOP,
        authorization: `Bearer ${env.token('admin')}`,
      });
      assert.equal(allowed.status, 200, path);
      assert.equal(allowed.headers.get('access-control-allow-origin'), SHOP);
      assert.equal(allowed.headers.get('access-control-allow-credentials'), null);
      assert.deepEqual(allowed.data, { viewer: { kind: 'dev' } });
    }
  });

  test('another origin is refused before anything runs, without Access-Control-Allow-Origin', async () => {
    const keysBefore = await env.em().count(ApiKey, {}, { filters: false });
    const refused = await call(
      '/graphql',
      'mutation { createApiKey(input: { name: "from a foreign page", role: ADMIN }) { __typename } }',
      { origin: EVIL, authorization: `Bearer ${env.token('admin')}` },
    );
    assert.equal(refused.status, 403);
    assert.equal(refused.errors?.[0]?.extensions?.code, 'ORIGIN_NOT_ALLOWED');
    assert.match(refused.errors?.[0]?.message ?? '', /origin https:\/\/evil\.example may not call/);
    assert.equal(refused.headers.get('access-control-allow-origin'), null);
    assert.equal(await env.em().count(ApiKey, {}, { filters: false }), keysBefore, 'nothing was created');
    const publicGraph = await call('/public/graphql', '{ viewer { kind } }', {
      origin: EVIL,
      authorization: `Bearer ${env.token('reader')}`,
    });
    assert.equal(publicGraph.status, 403);
    assert.equal(publicGraph.data, undefined);
  });

  test('calls without Origin (servers) and other workspaces keep working from anywhere', async () => {
    const server = await call('/graphql', '{ viewer { kind } }', {
      authorization: `Bearer ${env.token('admin')}`,
    });
    assert.equal(server.status, 200);
    const other = await call('/graphql', '{ viewer { kind } }', {
      origin: EVIL,
      authorization: `Bearer ${env.token('admin', 'other')}`,
    });
    assert.equal(other.status, 200);
    assert.equal(other.headers.get('access-control-allow-origin'), EVIL);
  });

  test('a preflight names no workspace: it is answered for any origin, the request is what is checked', async () => {
    const preflight = await fetch(`${env.url}/graphql`, {
      method: 'OPTIONS',
      headers: {
        origin: EVIL,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), EVIL);
    assert.equal(preflight.headers.get('access-control-allow-credentials'), null);
  });

  test('an empty list lets any origin call again, at once', async () => {
    await admin().ok(UPDATE, { origins: [] });
    const again = await call('/graphql', '{ viewer { kind } }', {
      origin: EVIL,
      authorization: `Bearer ${env.token('admin')}`,
    });
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('access-control-allow-origin'), EVIL);
  });
});
