import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { definePlugin } from '../kernel/plugin.ts';
import { createApiKey } from '../modules/api-keys/service.ts';
import { createTestEnvironment, type TestEnvironment } from '../testing/index.ts';
import { StandInOidcIssuer } from '../testing/oidc-issuer.ts';

// Modelled on the OWASP GraphQL Cheat Sheet, against the production configuration: NODE_ENV=production,
// no dev tokens (callers use API keys), default limits.

/** A resolver that fails the way a bug does: its message must never reach the caller. */
const failingFieldPlugin = definePlugin(() => ({
  name: 'failing-fixture',
  compatibility: '^1.0.0',
  schema: (builder) => {
    builder.queryField('explode', (t) =>
      t.boolean({
        authScopes: { admin: true },
        resolve: () => {
          throw new Error('connection to 10.0.0.5:5432 refused for user atrium');
        },
      }),
    );
  },
}));

const issuer = new StandInOidcIssuer();
let prod: TestEnvironment;
let adminKey: string;
let agentKey: string;

before(async () => {
  await issuer.start();
  prod = await createTestEnvironment({
    plugins: [failingFieldPlugin()],
    settings: {
      NODE_ENV: 'production',
      AUTH_DEV_TOKENS: 'false',
      AUTH_ISSUER_URL: issuer.issuerUrl,
      AUTH_AUDIENCE: 'atrium-api',
      PUBLIC_GRAPHQL_RATE_PER_SECOND: '5',
    },
  });
  const demo = await prod.workspace('demo');
  const key = (role: 'admin' | 'agent') =>
    prod.atrium.orm.em
      .fork()
      .transactional(async (em) => (await createApiKey(em, demo.id, { name: role, role })).secret);
  adminKey = await key('admin');
  agentKey = await key('agent');
});
after(async () => {
  await prod?.destroy();
  await issuer.stop();
});

async function post(body: unknown, headers: Record<string, string> = {}, path = '/graphql') {
  const response = await fetch(`${prod.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': adminKey, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json: { data?: any; errors?: { message: string; extensions?: Record<string, unknown> }[] } = {};
  try {
    json = JSON.parse(text);
  } catch {
    json = {};
  }
  return { status: response.status, headers: response.headers, text, ...json };
}

describe('OWASP GraphQL Cheat Sheet, production configuration', () => {
  test('deep nesting is refused before anything runs', async () => {
    const nested = `${'mergedInto { '.repeat(20)}id${' }'.repeat(20)}`;
    const id = Buffer.from('Conversation:00000000-0000-4000-8000-000000000001').toString('base64');
    const result = await post(
      { query: `{ conversation(id: "${id}") { ${nested} } }` },
      { 'x-api-key': agentKey },
    );
    assert.equal(result.errors?.[0]?.extensions?.code, 'QUERY_TOO_COMPLEX', result.text);
    assert.match(result.errors?.[0]?.message ?? '', /depth is \d+, the limit is 12/);
    assert.equal(result.data?.conversation ?? null, null, 'the field did not resolve');
  });

  test('alias overloading: many aliases of one field exceed the breadth limit', async () => {
    const aliases = Array.from({ length: 300 }, (_, i) => `a${i}: viewer { subject }`).join(' ');
    const result = await post({ query: `{ ${aliases} }` });
    assert.equal(result.errors?.[0]?.extensions?.code, 'QUERY_TOO_COMPLEX', result.text);
    assert.match(result.errors?.[0]?.message ?? '', /breadth is \d+, the limit is 200/);
  });

  test('alias overloading of a list: the cost limit counts each alias of a connection', async () => {
    const aliases = Array.from(
      { length: 12 },
      (_, i) => `p${i}: profiles(first: 100) { edges { node { id identities { type value } } } }`,
    ).join(' ');
    const result = await post({ query: `{ ${aliases} }` });
    assert.equal(result.errors?.[0]?.extensions?.code, 'QUERY_TOO_COMPLEX', result.text);
    assert.match(result.errors?.[0]?.message ?? '', /complexity is \d+, the limit is 2000/);
  });

  test('batching attacks: an array of operations is refused whole, nothing runs', async () => {
    const guesses = Array.from({ length: 50 }, () => ({
      query: 'mutation { createApiKey(input: { name: "batched", role: ADMIN }) { __typename } }',
    }));
    const result = await post(guesses);
    assert.ok(result.status >= 400 && result.status < 500, `status ${result.status}: ${result.text}`);
    const keys = await post({ query: '{ apiKeys(first: 100) { edges { node { name } } } }' });
    const names = keys.data.apiKeys.edges.map((e: { node: { name: string } }) => e.node.name);
    assert.ok(!names.includes('batched'), 'no operation of the batch ran');
  });

  test('two operations in one document: only the named one runs, an unnamed choice is refused', async () => {
    const query = 'query A { viewer { subject } } query B { viewer { kind } }';
    const unnamed = await post({ query });
    assert.ok(unnamed.errors?.length, unnamed.text);
    assert.equal(unnamed.data ?? null, null);
    const named = await post({ query, operationName: 'B' });
    assert.deepEqual(Object.keys(named.data.viewer), ['kind']);
  });

  test('introspection is refused in production; __typename still works', async () => {
    for (const query of [
      '{ __schema { types { name } } }',
      '{ __type(name: "Profile") { fields { name } } }',
    ]) {
      const result = await post({ query });
      assert.equal(result.errors?.[0]?.extensions?.code, 'GRAPHQL_VALIDATION_FAILED', result.text);
      assert.match(result.errors?.[0]?.message ?? '', /introspection/i);
      assert.equal(result.data ?? null, null);
    }
    const anonymous = await post(
      { query: '{ __schema { queryType { name } } }' },
      { 'x-api-key': '' },
      '/public/graphql',
    );
    assert.equal(anonymous.errors?.[0]?.extensions?.code, 'GRAPHQL_VALIDATION_FAILED');
    assert.equal((await post({ query: '{ __typename }' })).data.__typename, 'Query');
  });

  test('no field, argument or enum suggestions in production', async () => {
    const field = await post({ query: '{ viewr { subject } }' });
    assert.match(field.errors?.[0]?.message ?? '', /Cannot query field "viewr"/);
    assert.doesNotMatch(field.text, /Did you mean/);
    const argument = await post({ query: '{ profiles(frist: 1) { edges { cursor } } }' });
    assert.ok(argument.errors?.length);
    assert.doesNotMatch(argument.text, /Did you mean/);
    const enumValue = await post({
      query: 'mutation ($role: Role!) { createApiKey(input: { name: "x", role: $role }) { __typename } }',
      variables: { role: 'ADMN' },
    });
    assert.ok(enumValue.errors?.length, enumValue.text);
    assert.doesNotMatch(enumValue.text, /Did you mean/);
  });

  test('oversized bodies are answered 413 before parsing, announced or not', async () => {
    const padding = 'x'.repeat(2 * 1024 * 1024);
    const announced = await post({ query: `{ viewer { subject } } # ${padding}` });
    assert.equal(announced.status, 413);
    assert.equal(announced.errors?.[0]?.extensions?.code, 'PAYLOAD_TOO_LARGE');
    // Chunked, without Content-Length: counted while reading.
    const chunks = [`{"query":"{ viewer { subject } } #`, padding, '"}'];
    const chunked = await fetch(`${prod.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': adminKey },
      body: new ReadableStream({
        start(controller) {
          for (const c of chunks) controller.enqueue(new TextEncoder().encode(c));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    assert.equal(chunked.status, 413);
  });

  test('a token flood under the body limit stops at parsing', async () => {
    const query = `{ viewer { subject ${'__typename '.repeat(12_000)} } }`;
    const result = await post({ query });
    assert.equal(result.errors?.[0]?.extensions?.code, 'GRAPHQL_PARSE_FAILED', result.text.slice(0, 300));
    assert.match(result.errors?.[0]?.message ?? '', /tokens/);
  });

  test('directive overloading is refused', async () => {
    const result = await post({ query: `{ viewer ${'@skip(if: false) '.repeat(50)}{ subject } }` });
    assert.ok(result.errors?.length);
    assert.equal(result.data ?? null, null);
  });

  test('unexpected errors are masked: no message, no stack, logged on the server only', async () => {
    const result = await post({ query: '{ explode }' });
    assert.equal(result.errors?.[0]?.message, 'Unexpected error.');
    assert.equal(result.errors?.[0]?.extensions?.code, 'INTERNAL_SERVER_ERROR');
    assert.deepEqual(result.errors?.[0]?.extensions, { code: 'INTERNAL_SERVER_ERROR' });
    assert.doesNotMatch(result.text, /10\.0\.0\.5|stack|at .*\.ts/);
  });

  test('mutations over GET are refused (no CSRF by link); GraphiQL is not served', async () => {
    const query = encodeURIComponent(
      'mutation { createApiKey(input: { name: "csrf", role: ADMIN }) { __typename } }',
    );
    const get = await fetch(`${prod.url}/graphql?query=${query}`, { headers: { 'x-api-key': adminKey } });
    assert.equal(get.status, 405);
    const page = await fetch(`${prod.url}/graphql`, { headers: { accept: 'text/html' } });
    assert.ok(!page.headers.get('content-type')?.includes('text/html'), 'no GraphiQL in production');
  });

  test('CORS: any origin, never with credentials (no ambient authority to borrow)', async () => {
    const preflight = await fetch(`${prod.url}/graphql`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://shop.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://shop.example');
    assert.equal(preflight.headers.get('access-control-allow-credentials'), null);
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /authorization/);
  });

  test('answers carry the security headers', async () => {
    const result = await post({ query: '{ __typename }' });
    assert.equal(result.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(result.headers.get('x-frame-options'), 'DENY');
    assert.equal(result.headers.get('referrer-policy'), 'no-referrer');
  });
});

describe('rate limit on the Public graph, per client address', () => {
  test('a burst over PUBLIC_GRAPHQL_RATE_PER_SECOND gets 429 with Retry-After; another address is not slowed', async () => {
    const from = (address: string) =>
      fetch(`${prod.url}/public/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
    const answers = await Promise.all(Array.from({ length: 40 }, () => from('203.0.113.7')));
    const limited = answers.filter((r) => r.status === 429);
    // 5 a second and a burst of 5: most of 40 at once are refused, however slow the machine is.
    assert.ok(limited.length >= 20, `${limited.length} of 40 limited`);
    assert.ok(Number(limited[0]?.headers.get('retry-after')) >= 1);
    const body = (await limited[0]?.json()) as { errors: { extensions: { code: string } }[] };
    assert.equal(body.errors[0]?.extensions.code, 'RATE_LIMITED');
    assert.equal((await from('198.51.100.9')).status, 200);
    // The address is the one the ingress appended (last), not what the client put first.
    const rotating = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        fetch(`${prod.url}/public/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-forwarded-for': `10.0.0.${i}, 192.0.2.44` },
          body: JSON.stringify({ query: '{ __typename }' }),
        }),
      ),
    );
    assert.ok(rotating.filter((r) => r.status === 429).length >= 20, 'a made-up first address does not help');
  });
});

describe('outside production, introspection and suggestions stay on for developers', () => {
  let dev: TestEnvironment;
  before(async () => {
    dev = await createTestEnvironment();
  });
  after(() => dev?.destroy());

  test('introspection answers and a typo gets a suggestion', async () => {
    const client = dev.adminClient.withToken(dev.token('admin'));
    const schema = await client.ok('{ __schema { queryType { name } } }');
    assert.equal(schema.__schema.queryType.name, 'Query');
    const typo = await client.query('{ viewr { subject } }');
    assert.match(typo.errors?.[0]?.message ?? '', /Did you mean "viewer"/);
  });
});
