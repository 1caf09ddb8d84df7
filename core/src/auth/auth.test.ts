import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ApiKey } from '../modules/api-keys/entities.ts';
import { createTestEnvironment, type TestEnvironment } from '../testing/index.ts';
import { StandInOidcIssuer } from '../testing/oidc-issuer.ts';

const VIEWER = '{ viewer { subject kind scopes workspace { slug } } }';

const issuer = new StandInOidcIssuer();
let env: TestEnvironment;

before(async () => {
  await issuer.start();
  env = await createTestEnvironment({
    settings: {
      AUTH_ISSUER_URL: issuer.issuerUrl,
      AUTH_AUDIENCE: 'atrium-api',
      AUTH_KEYS_MIN_REFRESH_S: '1',
    },
  });
});
after(async () => {
  await env?.destroy();
  await issuer.stop();
});

const asBearer = (token: string) => env.adminClient.withToken(token);
const roles = (...r: string[]) => ({ realm_access: { roles: ['offline_access', ...r] } });

async function refused(token: string, reason: RegExp) {
  const result = await asBearer(token).query(VIEWER);
  assert.equal(result.status, 401, JSON.stringify(result));
  assert.equal(result.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
  assert.match(result.errors?.[0]?.message ?? '', reason);
}

describe('Keycloak access tokens (verified by keycloak-connect against the realm keys)', () => {
  test('a valid token maps realm roles to scopes and the workspace claim to the workspace', async () => {
    const data = await asBearer(issuer.sign({ workspace: 'demo', ...roles('editor') })).ok(VIEWER);
    assert.deepEqual(data.viewer.scopes, ['editor', 'viewer', 'reader']);
    assert.equal(data.viewer.workspace.slug, 'demo');
    assert.equal(data.viewer.kind, 'user');
  });

  test('client roles of our client count too; service accounts are told apart', async () => {
    const token = issuer.sign({
      workspace: 'demo',
      preferred_username: 'service-account-shop',
      resource_access: { 'atrium-api': { roles: ['analyst'] }, other: { roles: ['admin'] } },
    });
    const data = await asBearer(token).ok(VIEWER);
    assert.deepEqual(data.viewer.scopes, ['analyst', 'viewer', 'reader']);
    assert.equal(data.viewer.kind, 'service');
  });

  test('expired, wrong issuer, wrong audience, bad signature, no workspace: refused with the reason', async () => {
    await refused(issuer.sign({ workspace: 'demo', exp: Math.floor(Date.now() / 1000) - 5 }), /expired/);
    await refused(issuer.sign({ workspace: 'demo', iss: 'http://127.0.0.1:1/realms/evil' }), /wrong issuer/);
    await refused(
      issuer.sign({ workspace: 'demo', aud: 'someone-else', azp: 'someone-else' }),
      /wrong audience/,
    );
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await refused(issuer.sign({ workspace: 'demo' }, { privateKey }), /signature/);
    await refused(issuer.sign({ ...roles('admin') }), /no "workspace" claim/);
    await refused(issuer.sign({ workspace: 'demo', typ: 'ID' }), /wrong type/);
    await refused('not.a.jwt', /not a JWT/);
    await refused(issuer.sign({ workspace: 'demo', exp: undefined }), /no expiry/);
  });

  test('a malformed Authorization header is refused, no header is anonymous', async () => {
    const res = await env.adminClient.withHeaders({ authorization: 'Basic abc' }).query(VIEWER);
    assert.equal(res.status, 401);
    const anonymous = await env.adminClient.query(VIEWER);
    assert.equal(anonymous.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
    assert.match(anonymous.errors?.[0]?.message ?? '', /needs a bearer token or API key/);
  });

  test('a token without the needed role is refused per field with FORBIDDEN', async () => {
    const viewerOnly = asBearer(issuer.sign({ workspace: 'demo', ...roles('viewer') }));
    assert.deepEqual((await viewerOnly.ok(VIEWER)).viewer.scopes, ['viewer', 'reader']);
    const result = await viewerOnly.query('{ apiKeys { edges { node { id } } } }');
    assert.equal(result.errors?.[0]?.extensions?.code, 'FORBIDDEN');
    assert.equal(result.data ?? null, null);
    const noRoles = await asBearer(issuer.sign({ workspace: 'demo' })).query(
      '{ apiKeys { totalCount: edges { cursor } } }',
    );
    assert.equal(noRoles.errors?.[0]?.extensions?.code, 'FORBIDDEN');
  });

  test('after Keycloak rotates its signing key, tokens signed with the new key are accepted', async () => {
    const before = issuer.certsRequests;
    const newKid = issuer.rotateKey();
    // keycloak-connect refetches the realm keys on an unknown kid, at most every AUTH_KEYS_MIN_REFRESH_S.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const data = await asBearer(issuer.sign({ workspace: 'demo', ...roles('admin') }, { kid: newKid })).ok(
      VIEWER,
    );
    assert.equal(data.viewer.scopes[0], 'admin');
    assert.ok(issuer.certsRequests > before, 'the realm keys were fetched again');
  });
});

describe('dev tokens and API keys', () => {
  test('a dev token works outside production', async () => {
    const data = await asBearer(env.token('admin')).ok(VIEWER);
    assert.equal(data.viewer.kind, 'dev');
    assert.equal(data.viewer.workspace.slug, 'demo');
  });

  test('an API key authenticates as its role in its workspace until revoked', async () => {
    const admin = asBearer(env.token('admin'));
    const created = await admin.ok(
      'mutation { createApiKey(input: { name: "shop backend", role: EDITOR }) { ... on CreateApiKeyPayload { secret apiKey { id prefix } } } }',
    );
    const { secret, apiKey } = created.createApiKey;
    assert.match(secret, /^atk_/);
    assert.ok(secret.includes(apiKey.prefix));
    const viaHeader = await env.adminClient.withHeaders({ 'x-api-key': secret }).ok(VIEWER);
    assert.deepEqual(viaHeader.viewer.scopes, ['editor', 'viewer', 'reader']);
    assert.equal(viaHeader.viewer.kind, 'api-key');
    assert.equal((await asBearer(secret).ok(VIEWER)).viewer.workspace.slug, 'demo');

    const stored = await env.em().findOneOrFail(ApiKey, { prefix: apiKey.prefix }, { filters: false });
    assert.notEqual(stored.secretHash, secret, 'only the hash is stored');
    assert.match(stored.secretHash, /^[0-9a-f]{64}$/);

    await admin.ok(`mutation { revokeApiKey(input: { id: "${apiKey.id}" }) { __typename } }`);
    await refused(secret, /unknown or revoked/);
  });
});

describe('production mode', () => {
  test('dev tokens are refused when NODE_ENV=production', async () => {
    const prod = await createTestEnvironment({
      settings: {
        NODE_ENV: 'production',
        AUTH_DEV_TOKENS: 'false',
        AUTH_ISSUER_URL: issuer.issuerUrl,
        AUTH_AUDIENCE: 'atrium-api',
      },
    });
    try {
      const result = await prod.adminClient.withToken(prod.token('admin')).query(VIEWER);
      assert.equal(result.status, 401);
      assert.match(result.errors?.[0]?.message ?? '', /wrong issuer/);
      const real = await prod.adminClient
        .withToken(issuer.sign({ workspace: 'demo', ...roles('viewer') }))
        .ok(VIEWER);
      assert.equal(real.viewer.workspace.slug, 'demo');
      const graphiql = await fetch(`${prod.url}/graphql`, { headers: { accept: 'text/html' } });
      assert.notEqual(
        graphiql.headers.get('content-type')?.includes('text/html'),
        true,
        'no GraphiQL in production',
      );
    } finally {
      await prod.destroy();
    }
  });
});
