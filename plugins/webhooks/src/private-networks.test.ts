import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestEnvironment, type TestEnvironment } from '@atrium/core/testing';
import { webhooksPlugin } from './index.ts';

let env: TestEnvironment;
before(async () => {
  env = await createTestEnvironment({ plugins: [webhooksPlugin({ allowPrivateNetworks: false })] });
});
after(() => env?.destroy());

test('with allowPrivateNetworks false, endpoints on private addresses are refused', async () => {
  const admin = env.adminClient.withToken(env.token('admin', 'demo'));
  const create = (url: string) =>
    admin.ok(
      `mutation ($url: String!) { createWebhookEndpoint(input: { url: $url, eventTypes: ["*"] }) {
        __typename ... on ValidationError { field } } }`,
      { url },
    );
  for (const url of [
    'http://127.0.0.1:8080/hooks',
    'http://localhost/hooks',
    'http://169.254.169.254/latest',
    'http://[::1]/',
  ]) {
    const { createWebhookEndpoint: result } = await create(url);
    assert.deepEqual(result, { __typename: 'ValidationError', field: 'url' }, url);
  }
  const { createWebhookEndpoint: ok } = await create('https://hooks.example.com/atrium');
  assert.equal(ok.__typename, 'CreateWebhookEndpointPayload');
});
