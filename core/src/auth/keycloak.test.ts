import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestEnvironment, type TestEnvironment } from '../testing/index.ts';
import { decodeJwt } from './jwt.ts';

// A real Keycloak, started by deploy/local/keycloak.sh (test.sh and CI export KEYCLOAK_URL), with the
// realm deploy/keycloak/atrium-realm.json. The stand-in issuer of auth.test.ts is not Keycloak.
const keycloakUrl = process.env.KEYCLOAK_URL?.replace(/\/+$/, '');
const skip = keycloakUrl
  ? false
  : 'KEYCLOAK_URL is not set: start Keycloak with `bash deploy/local/keycloak.sh` and export the line it prints (deploy/local/test.sh does)';
const realmUrl = `${keycloakUrl}/realms/atrium`;
const VIEWER = '{ viewer { subject kind scopes workspace { slug } } }';

interface TokenResponse {
  access_token: string;
  refresh_token?: string;
  expires_in: number;
}

async function tokenRequest(realm: string, form: Record<string, string>): Promise<Response> {
  return fetch(`${keycloakUrl}/realms/${realm}/protocol/openid-connect/token`, {
    method: 'POST',
    body: new URLSearchParams(form),
  });
}

async function grant(realm: string, form: Record<string, string>): Promise<TokenResponse> {
  const response = await tokenRequest(realm, form);
  if (!response.ok) throw new Error(`Keycloak token endpoint: ${response.status} ${await response.text()}`);
  return (await response.json()) as TokenResponse;
}

/** The password grant of the public client, as a frontend's login would end. */
const login = (username: string, clientId = 'atrium-api') =>
  grant('atrium', { grant_type: 'password', client_id: clientId, username, password: username });

/** The client-credentials grant of the confidential machine client. */
const serviceToken = () =>
  grant('atrium', {
    grant_type: 'client_credentials',
    client_id: 'atrium-service',
    client_secret: 'atrium-service-local-secret',
  });

async function adminApi(path: string, init: RequestInit = {}): Promise<Response> {
  const { access_token } = await grant('master', {
    grant_type: 'password',
    client_id: 'admin-cli',
    username: 'admin',
    password: 'admin',
  });
  return fetch(`${keycloakUrl}/admin/realms/atrium${path}`, {
    ...init,
    headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json', ...init.headers },
  });
}

let env: TestEnvironment;

describe('a real Keycloak (realm atrium): tokens from it are accepted, mapped and refused as documented', {
  skip,
}, () => {
  before(async () => {
    env = await createTestEnvironment({
      settings: { AUTH_ISSUER_URL: realmUrl, AUTH_AUDIENCE: 'atrium-api', AUTH_KEYS_MIN_REFRESH_S: '1' },
    });
  });
  after(async () => {
    await env?.destroy();
  });

  const as = (token: string) => env.adminClient.withToken(token);

  async function refused(token: string, reason: RegExp) {
    const result = await as(token).query(VIEWER);
    assert.equal(result.status, 401, JSON.stringify(result));
    assert.equal(result.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
    assert.match(result.errors?.[0]?.message ?? '', reason);
  }

  test('password grant: each realm role becomes its scopes, the workspace attribute the workspace', async () => {
    const expected: Record<string, string[]> = {
      admin: ['admin', 'editor', 'reviewer', 'agent', 'analyst', 'viewer', 'reader'],
      editor: ['editor', 'viewer', 'reader'],
      reviewer: ['reviewer', 'viewer', 'reader'],
      agent: ['agent', 'viewer', 'reader'],
      analyst: ['analyst', 'viewer', 'reader'],
      viewer: ['viewer', 'reader'],
      reader: ['reader'],
    };
    for (const [user, scopes] of Object.entries(expected)) {
      const { access_token } = await login(user);
      const { viewer } = await as(access_token).ok(VIEWER);
      assert.deepEqual(viewer.scopes, scopes, user);
      assert.equal(viewer.kind, 'user');
      assert.equal(viewer.workspace.slug, 'demo');
      assert.equal(
        viewer.subject,
        decodeJwt(access_token)?.claims.sub,
        'the subject is the Keycloak user id',
      );
    }
    const other = await as((await login('other-admin')).access_token).ok(VIEWER);
    assert.equal(other.viewer.workspace.slug, 'other', 'the mapper reads the user attribute, per user');
  });

  test('client-credentials grant: the service account is kind service with its role', async () => {
    const { access_token } = await serviceToken();
    const { viewer } = await as(access_token).ok(VIEWER);
    assert.equal(viewer.kind, 'service');
    assert.deepEqual(viewer.scopes, ['editor', 'viewer', 'reader']);
    assert.equal(viewer.workspace.slug, 'demo');
  });

  test('scopes from real tokens are enforced per field', async () => {
    const viewer = as((await login('viewer')).access_token);
    const forbidden = await viewer.query('{ apiKeys { edges { node { id } } } }');
    assert.equal(forbidden.errors?.[0]?.extensions?.code, 'FORBIDDEN');
    const admin = as((await login('admin')).access_token);
    await admin.ok('{ apiKeys { edges { node { id } } } }');
  });

  test('a tampered token and a token of another realm are refused', async () => {
    const { access_token } = await login('viewer');
    const [header, payload, signature] = access_token.split('.');
    const claims = JSON.parse(Buffer.from(payload as string, 'base64url').toString());
    claims.realm_access = { roles: ['admin'] };
    const forged = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
    await refused(forged, /signature/);
    const master = await grant('master', {
      grant_type: 'password',
      client_id: 'admin-cli',
      username: 'admin',
      password: 'admin',
    });
    await refused(master.access_token, /wrong issuer/);
  });

  test('logout: the refresh token dies at once, the access token lives until its expiry (documented)', async () => {
    const session = await login('agent');
    assert.ok(session.refresh_token);
    assert.ok(session.expires_in <= 300, 'the realm keeps access tokens short (5 minutes)');
    const logout = await fetch(`${realmUrl}/protocol/openid-connect/logout`, {
      method: 'POST',
      body: new URLSearchParams({ client_id: 'atrium-api', refresh_token: session.refresh_token as string }),
    });
    assert.equal(logout.status, 204, await logout.text());
    const refresh = await tokenRequest('atrium', {
      grant_type: 'refresh_token',
      client_id: 'atrium-api',
      refresh_token: session.refresh_token as string,
    });
    assert.equal(refresh.status, 400, 'no new access token after logout');
    // Offline verification: Atrium does not ask Keycloak per request (docs/security.md).
    const { viewer } = await as(session.access_token).ok(VIEWER);
    assert.equal(viewer.kind, 'user');
  });

  test('an expired Keycloak token is refused (the short-lived client issues 5-second tokens)', async () => {
    const { access_token, expires_in } = await login('agent', 'atrium-short-lived');
    assert.equal(expires_in, 5);
    await as(access_token).ok(VIEWER);
    await new Promise((resolve) => setTimeout(resolve, 6500));
    await refused(access_token, /expired/);
  });

  test('key rotation in Keycloak: tokens signed with a new active key verify without a restart', async () => {
    const oldKid = decodeJwt((await login('admin')).access_token)?.header.kid;
    assert.ok(oldKid);
    const realm = (await (await adminApi('')).json()) as { id: string };
    const name = `atrium-test-rotation-${Date.now()}`;
    const created = await adminApi('/components', {
      method: 'POST',
      body: JSON.stringify({
        name,
        providerId: 'rsa-generated',
        providerType: 'org.keycloak.keys.KeyProvider',
        parentId: realm.id,
        config: {
          priority: ['1000'],
          keySize: ['2048'],
          active: ['true'],
          enabled: ['true'],
          algorithm: ['RS256'],
        },
      }),
    });
    assert.equal(created.status, 201, await created.text());
    const componentUrl = created.headers.get('location') as string;
    try {
      const rotated = (await login('admin')).access_token;
      const newKid = decodeJwt(rotated)?.header.kid;
      assert.ok(newKid);
      assert.notEqual(newKid, oldKid, 'Keycloak signs with the new key');
      // keycloak-connect refetches the realm's keys on an unknown key id (AUTH_KEYS_MIN_REFRESH_S=1).
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const { viewer } = await as(rotated).ok(VIEWER);
      assert.equal(viewer.scopes[0], 'admin');
    } finally {
      const removed = await adminApi(componentUrl.slice(componentUrl.indexOf('/components')), {
        method: 'DELETE',
      });
      assert.equal(removed.status, 204);
    }
  });

  test('production configuration: real tokens work, dev tokens do not', async () => {
    const prod = await createTestEnvironment({
      settings: {
        NODE_ENV: 'production',
        AUTH_DEV_TOKENS: 'false',
        AUTH_ISSUER_URL: realmUrl,
        AUTH_AUDIENCE: 'atrium-api',
      },
    });
    try {
      const { viewer } = await prod.adminClient.withToken((await serviceToken()).access_token).ok(VIEWER);
      assert.equal(viewer.kind, 'service');
      const dev = await prod.adminClient.withToken(prod.token('admin')).query(VIEWER);
      assert.equal(dev.status, 401);
    } finally {
      await prod.destroy();
    }
  });
});
