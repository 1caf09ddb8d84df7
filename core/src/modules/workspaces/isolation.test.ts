import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { probeControl, probePlugin } from '../../testing/fixtures/probe-plugin.ts';
import { createTestEnvironment, type TestEnvironment, waitFor } from '../../testing/index.ts';
import { ApiKey } from '../api-keys/entities.ts';

let env: TestEnvironment;
let demoKeyId: string;

before(async () => {
  env = await createTestEnvironment({ plugins: [probePlugin({})] });
  probeControl.failing = false;
  const created = await env.adminClient
    .withToken(env.token('admin', 'demo'))
    .ok(
      'mutation { createApiKey(input: { name: "demo key", role: VIEWER }) { ... on CreateApiKeyPayload { apiKey { id } } } }',
    );
  demoKeyId = created.createApiKey.apiKey.id;
});
after(() => env?.destroy());

const other = () => env.adminClient.withToken(env.token('admin', 'other'));
const demo = () => env.adminClient.withToken(env.token('admin', 'demo'));

test('a token for the other workspace lists nothing of demo', async () => {
  const data = await other().ok('{ viewer { workspace { slug } } apiKeys { edges { node { id name } } } }');
  assert.equal(data.viewer.workspace.slug, 'other');
  assert.deepEqual(data.apiKeys.edges, []);
  const own = await demo().ok('{ apiKeys { edges { node { id name } } } }');
  assert.deepEqual(
    own.apiKeys.edges.map((e: { node: { name: string } }) => e.node.name),
    ['demo key'],
  );
});

test('nor can it fetch, revoke or see the workspace of demo by global id', async () => {
  const node = await other().ok('query ($id: ID!) { node(id: $id) { id } }', { id: demoKeyId });
  assert.equal(node.node, null);
  const demoWorkspace = (await demo().ok('{ viewer { workspace { id } } }')).viewer.workspace.id;
  assert.equal(
    (await other().ok('query ($id: ID!) { node(id: $id) { id } }', { id: demoWorkspace })).node,
    null,
  );
  const revoke = await other().ok(
    'mutation ($id: ID!) { revokeApiKey(input: { id: $id }) { __typename ... on Error { code message } } }',
    { id: demoKeyId },
  );
  assert.equal(revoke.revokeApiKey.__typename, 'NotFoundError');
  const key = await env.em().findOneOrFail(ApiKey, { name: 'demo key' }, { filters: false });
  assert.equal(key.revokedAt, null, 'nothing changed');
});

test("event deliveries of demo's events are invisible to the other workspace", async () => {
  await waitFor(
    async () => {
      const d = await demo().ok('{ eventDeliveries { edges { node { eventType status } } } }');
      return d.eventDeliveries.edges.some((e: { node: { status: string } }) => e.node.status === 'SUCCEEDED');
    },
    15000,
    'the probe delivery',
  );
  const seen = await other().ok('{ eventDeliveries { edges { node { id } } } }');
  assert.deepEqual(seen.eventDeliveries.edges, []);
});

test('queries without a workspace never fall back to every workspace', async () => {
  await assert.rejects(env.em().find(ApiKey, {}), /filter|argument|param/i);
});

test('node(id:) keeps the scope of the type: a viewer cannot load an API key by id', async () => {
  const viewer = env.adminClient.withToken(env.token('viewer', 'demo'));
  const result = await viewer.query('query ($id: ID!) { node(id: $id) { id } }', { id: demoKeyId });
  assert.equal(result.errors?.[0]?.extensions?.code, 'FORBIDDEN');
});
