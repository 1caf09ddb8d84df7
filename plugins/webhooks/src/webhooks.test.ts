import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { schemaDrift } from '@atrium/core';
import {
  createTestEnvironment,
  type GraphQLClient,
  type TestEnvironment,
  waitFor,
} from '@atrium/core/testing';
import { WebhookDelivery, webhooksPlugin } from './index.ts';
import { verifyWebhookSignature } from './signing.ts';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A real HTTP receiver on 127.0.0.1 whose answers the test scripts. */
async function startReceiver(answer: (n: number) => number | 'hang' = () => 200) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const status = receiver.answer(received.length);
      if (status === 'hang') return;
      res
        .writeHead(status, { 'content-type': 'text/plain' })
        .end(status >= 300 ? 'down for maintenance' : 'ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const receiver = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    received,
    answer,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return receiver;
}

interface DeliveryNode {
  id: string;
  status: string;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  nextAttemptAt: string | null;
  deliveredAt: string | null;
  eventType: string;
  eventId: string;
  payload: unknown;
  endpoint: { id: string };
}

const rawId = (globalId: string) => Buffer.from(globalId, 'base64').toString('utf8').split(':')[1] as string;

const CREATE_ENDPOINT = `mutation ($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) {
    __typename
    ... on CreateWebhookEndpointPayload { secret webhookEndpoint { id url eventTypes enabled secretHint } }
    ... on ValidationError { code field message }
  }
}`;

const CREATE_API_KEY = `mutation ($name: String!) {
  createApiKey(input: { name: $name, role: VIEWER }) { ... on CreateApiKeyPayload { apiKey { id } } }
}`;

const DELIVERIES = `query ($endpointId: ID, $status: WebhookDeliveryStatus) {
  webhookDeliveries(endpointId: $endpointId, status: $status) {
    edges { node { id status attempts lastStatusCode lastError nextAttemptAt deliveredAt eventType eventId payload endpoint { id } } }
  }
}`;

describe('webhooks plugin', () => {
  let env: TestEnvironment;
  const receivers: { close(): Promise<void> }[] = [];

  before(async () => {
    env = await createTestEnvironment({
      plugins: [webhooksPlugin({ maxAttempts: 3, retryDelaySeconds: 1, timeoutMs: 1500 })],
    });
  });
  after(async () => {
    for (const r of receivers) await r.close();
    await env?.destroy();
  });

  /** Its own workspace per test, so that one test's endpoints never see another's events. */
  async function adminOf(slug: string): Promise<GraphQLClient> {
    await env.workspace(slug);
    return env.adminClient.withToken(env.token('admin', slug));
  }

  async function receiver(answer?: (n: number) => number | 'hang') {
    const r = await startReceiver(answer);
    receivers.push(r);
    return r;
  }

  async function createEndpoint(admin: GraphQLClient, input: Record<string, unknown>) {
    const { createWebhookEndpoint: result } = await admin.ok(CREATE_ENDPOINT, { input });
    assert.equal(result.__typename, 'CreateWebhookEndpointPayload', JSON.stringify(result));
    return result as { secret: string; webhookEndpoint: { id: string; url: string; eventTypes: string[] } };
  }

  /** Waits until the log filtered by `vars` holds exactly one delivery, and returns it. */
  async function theDelivery(
    admin: GraphQLClient,
    vars: Record<string, unknown>,
    what: string,
    timeoutMs = 15000,
  ) {
    const [one] = await waitFor(
      async () => {
        const list = await deliveries(admin, vars);
        return list.length === 1 ? list : null;
      },
      timeoutMs,
      what,
    );
    return one as DeliveryNode;
  }

  async function deliveries(admin: GraphQLClient, vars: Record<string, unknown>) {
    const data = await admin.ok(DELIVERIES, vars);
    return data.webhookDeliveries.edges.map((e: { node: DeliveryNode }) => e.node) as DeliveryNode[];
  }

  test('a new API key reaches a subscribed endpoint as a signed CloudEvent', async () => {
    const admin = await adminOf('wh-deliver');
    const hook = await receiver();
    const everything = await receiver();
    const { secret, webhookEndpoint } = await createEndpoint(admin, {
      url: hook.url,
      description: 'CRM sync',
      eventTypes: ['api-key.created'],
    });
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.deepEqual(webhookEndpoint.eventTypes, ['api-key.created']);
    await createEndpoint(admin, { url: everything.url, eventTypes: ['api-key.*'] });

    const created = await admin.ok(CREATE_API_KEY, { name: 'shop backend' });
    const apiKeyId = rawId(created.createApiKey.apiKey.id);
    await waitFor(() => hook.received.length === 1, 15000, 'the delivery');

    const [request] = hook.received as [Received];
    assert.equal(request.headers['content-type'], 'application/cloudevents+json');
    assert.ok(verifyWebhookSignature(secret, request.headers, request.body, 60), 'the signature verifies');
    assert.equal(verifyWebhookSignature(secret, request.headers, `${request.body} `, 60), false);
    const timestamp = Number(request.headers['webhook-timestamp']);
    assert.ok(Math.abs(Date.now() / 1000 - timestamp) < 30);
    assert.match(request.headers['webhook-signature'] as string, /^v1,[A-Za-z0-9+/]+=*$/);

    const event = JSON.parse(request.body);
    const workspace = await env.workspace('wh-deliver');
    assert.deepEqual(Object.keys(event).sort(), [
      'data',
      'datacontenttype',
      'id',
      'source',
      'specversion',
      'subject',
      'time',
      'type',
    ]);
    assert.equal(event.specversion, '1.0');
    assert.equal(event.type, 'com.atrium.api-key.created');
    assert.equal(event.source, `/atrium/workspaces/${workspace.id}`);
    assert.equal(event.subject, apiKeyId);
    assert.equal(event.datacontenttype, 'application/json');
    assert.ok(!Number.isNaN(Date.parse(event.time)));
    assert.deepEqual(event.data, {
      id: apiKeyId,
      name: 'shop backend',
      prefix: event.data.prefix,
      role: 'viewer',
    });

    const delivery = await theDelivery(
      admin,
      { endpointId: webhookEndpoint.id, status: 'SUCCEEDED' },
      'the delivery delivery',
    );
    assert.equal(request.headers['webhook-id'], rawId(delivery.id), 'webhook-id is the delivery id');
    assert.equal(delivery.eventId, event.id);
    assert.equal(delivery.eventType, 'api-key.created');
    assert.deepEqual(delivery.payload, event);
    assert.equal(delivery.attempts, 1);
    assert.equal(delivery.lastStatusCode, 200);
    assert.equal(delivery.nextAttemptAt, null);
    assert.ok(delivery.deliveredAt);

    // Revoking fires api-key.revoked: the `api-key.*` endpoint gets it, the exact filter does not.
    await admin.ok(`mutation ($id: ID!) { revokeApiKey(input: { id: $id }) { __typename } }`, {
      id: created.createApiKey.apiKey.id,
    });
    await waitFor(() => everything.received.length === 2, 15000, 'the revoked event');
    assert.equal(JSON.parse(everything.received[1]?.body ?? '{}').type, 'com.atrium.api-key.revoked');
    const all = await deliveries(admin, { endpointId: webhookEndpoint.id });
    assert.equal(all.length, 1, 'the api-key.created endpoint got nothing more');
  });

  test('a 500 is retried with backoff until the endpoint answers 2xx', async () => {
    const admin = await adminOf('wh-retry');
    const hook = await receiver((n) => (n <= 2 ? 500 : 200));
    const { webhookEndpoint } = await createEndpoint(admin, { url: hook.url, eventTypes: ['*'] });
    await admin.ok(CREATE_API_KEY, { name: 'retry me' });

    const delivery = await theDelivery(
      admin,
      { endpointId: webhookEndpoint.id, status: 'SUCCEEDED' },
      'the third attempt to succeed',
      30000,
    );
    assert.equal(delivery.attempts, 3);
    assert.equal(delivery.lastStatusCode, 200);
    assert.equal(delivery.lastError, null);
    assert.equal(hook.received.length, 3);
    const ids = new Set(hook.received.map((r) => r.headers['webhook-id']));
    assert.equal(ids.size, 1, 'every attempt carries the same webhook-id');
  });

  test('an endpoint that keeps failing ends FAILED, and redelivery sends it again', async () => {
    const admin = await adminOf('wh-dead');
    const hook = await receiver(() => 503);
    const { webhookEndpoint } = await createEndpoint(admin, {
      url: hook.url,
      eventTypes: ['api-key.created'],
    });
    await admin.ok(CREATE_API_KEY, { name: 'doomed' });

    const dead = await theDelivery(admin, { status: 'FAILED' }, 'the delivery to be dead-lettered', 30000);
    assert.equal(dead.endpoint.id, webhookEndpoint.id);
    assert.equal(dead.attempts, 3, 'maxAttempts');
    assert.equal(dead.lastStatusCode, 503);
    assert.equal(dead.lastError, 'HTTP 503: down for maintenance');
    assert.equal(dead.nextAttemptAt, null);
    assert.equal(hook.received.length, 3);

    hook.answer = () => 204;
    const REDELIVER = `mutation ($id: ID!) { redeliverWebhook(input: { deliveryId: $id }) {
      __typename
      ... on RedeliverWebhookPayload { webhookDelivery { status } }
      ... on ValidationError { field message }
    } }`;
    const redelivered = await admin.ok(REDELIVER, { id: dead.id });
    assert.equal(redelivered.redeliverWebhook.webhookDelivery.status, 'PENDING');
    const done = await theDelivery(admin, { status: 'SUCCEEDED' }, 'the done delivery');
    assert.equal(done.id, dead.id);
    assert.equal(done.attempts, 4);
    assert.equal(done.lastStatusCode, 204);
    assert.equal(
      hook.received[3]?.headers['webhook-id'],
      rawId(dead.id),
      'a redelivery keeps its webhook-id',
    );

    const again = await admin.ok(REDELIVER, { id: dead.id });
    assert.equal(again.redeliverWebhook.__typename, 'ValidationError');
    assert.equal(again.redeliverWebhook.field, 'deliveryId');
  });

  test('an attempt without an answer times out and is retried', async () => {
    const admin = await adminOf('wh-timeout');
    const hook = await receiver((n) => (n === 1 ? 'hang' : 200));
    await createEndpoint(admin, { url: hook.url, eventTypes: ['*'] });
    await admin.ok(CREATE_API_KEY, { name: 'slow' });
    const workspace = await env.workspace('wh-timeout');
    const em = () => env.em();
    const first = await waitFor(async () => {
      const d = await em().findOne(WebhookDelivery, { workspace: workspace.id }, { filters: false });
      return d && d.attempts >= 1 ? d : null;
    });
    // Seen between the attempts: the retry waits at least a second.
    assert.equal(first.status, 'pending');
    assert.equal(first.lastError, 'no answer within 1500 ms');
    assert.equal(first.lastStatusCode, null);
    assert.ok(first.nextAttemptAt && first.nextAttemptAt > first.createdAt);
    const done = await waitFor(async () => {
      const d = await em().findOne(WebhookDelivery, { id: first.id }, { filters: false });
      return d?.status === 'succeeded' ? d : null;
    });
    assert.equal(done.attempts, 2);
  });

  test('bad input is a ValidationError naming the field and creates nothing', async () => {
    const admin = await adminOf('wh-invalid');
    const cases: [Record<string, unknown>, string][] = [
      [{ url: 'ftp://example.com/hooks', eventTypes: ['*'] }, 'url'],
      [{ url: 'not a url', eventTypes: ['*'] }, 'url'],
      [{ url: 'https://user:pw@example.com/', eventTypes: ['*'] }, 'url'],
      [{ url: 'https://example.com/hooks', eventTypes: [] }, 'eventTypes'],
      [{ url: 'https://example.com/hooks', eventTypes: ['Not An Event!'] }, 'eventTypes'],
      [{ url: 'https://example.com/hooks', eventTypes: ['*'], description: 'x'.repeat(501) }, 'description'],
    ];
    for (const [input, field] of cases) {
      const { createWebhookEndpoint: result } = await admin.ok(CREATE_ENDPOINT, { input });
      assert.equal(result.__typename, 'ValidationError', JSON.stringify(input));
      assert.equal(result.code, 'VALIDATION_FAILED');
      assert.equal(result.field, field, result.message);
    }
    const list = await admin.ok(`{ webhookEndpoints { edges { node { id } } } }`);
    assert.deepEqual(list.webhookEndpoints.edges, []);

    const { webhookEndpoint } = await createEndpoint(admin, {
      url: 'https://example.com/hooks',
      eventTypes: ['*'],
    });
    const UPDATE = `mutation ($input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(input: $input) {
      __typename
      ... on UpdateWebhookEndpointPayload { webhookEndpoint { url eventTypes enabled description } }
      ... on ValidationError { field }
    } }`;
    const bad = await admin.ok(UPDATE, {
      input: { id: webhookEndpoint.id, url: 'gopher://x', enabled: false },
    });
    assert.equal(bad.updateWebhookEndpoint.field, 'url');
    const good = await admin.ok(UPDATE, {
      input: {
        id: webhookEndpoint.id,
        eventTypes: ['api-key.revoked', 'api-key.revoked'],
        enabled: false,
        description: 'off',
      },
    });
    assert.deepEqual(good.updateWebhookEndpoint.webhookEndpoint, {
      url: 'https://example.com/hooks',
      eventTypes: ['api-key.revoked'],
      enabled: false,
      description: 'off',
    });
  });

  test('rotating the secret signs with both secrets during the overlap, then only the new one', async () => {
    const admin = await adminOf('wh-rotate');
    const hook = await receiver();
    const { secret: oldSecret, webhookEndpoint } = await createEndpoint(admin, {
      url: hook.url,
      eventTypes: ['*'],
    });
    const ROTATE = `mutation ($id: ID!, $overlap: Int) { rotateWebhookSecret(input: { id: $id, overlapSeconds: $overlap }) {
      ... on RotateWebhookSecretPayload { secret webhookEndpoint { previousSecretExpiresAt secretHint } }
    } }`;
    const rotated = (await admin.ok(ROTATE, { id: webhookEndpoint.id })).rotateWebhookSecret;
    assert.notEqual(rotated.secret, oldSecret);
    assert.ok(rotated.webhookEndpoint.previousSecretExpiresAt);
    assert.equal(rotated.webhookEndpoint.secretHint, `${rotated.secret.slice(0, 10)}…`);

    await admin.ok(CREATE_API_KEY, { name: 'during overlap' });
    await waitFor(() => hook.received.length === 1);
    const first = hook.received[0] as Received;
    assert.equal((first.headers['webhook-signature'] as string).split(' ').length, 2);
    assert.ok(verifyWebhookSignature(rotated.secret, first.headers, first.body));
    assert.ok(verifyWebhookSignature(oldSecret, first.headers, first.body));

    const revoked = (await admin.ok(ROTATE, { id: webhookEndpoint.id, overlap: 0 })).rotateWebhookSecret;
    assert.equal(revoked.webhookEndpoint.previousSecretExpiresAt, null);
    await admin.ok(CREATE_API_KEY, { name: 'after' });
    await waitFor(() => hook.received.length === 2);
    const second = hook.received[1] as Received;
    assert.ok(verifyWebhookSignature(revoked.secret, second.headers, second.body));
    assert.equal(verifyWebhookSignature(rotated.secret, second.headers, second.body), false);
  });

  test("one workspace never sees or reaches another's endpoints", async () => {
    const demo = env.adminClient.withToken(env.token('admin', 'demo'));
    const other = env.adminClient.withToken(env.token('admin', 'other'));
    const demoHook = await receiver();
    const otherHook = await receiver();
    const { webhookEndpoint } = await createEndpoint(demo, { url: demoHook.url, eventTypes: ['*'] });
    await createEndpoint(other, { url: otherHook.url, eventTypes: ['*'] });

    const seen = await other.ok(`{ webhookEndpoints { edges { node { id } } } }`);
    assert.equal(seen.webhookEndpoints.edges.length, 1);
    assert.notEqual(seen.webhookEndpoints.edges[0].node.id, webhookEndpoint.id);
    const node = await other.ok(`query ($id: ID!) { node(id: $id) { id } }`, { id: webhookEndpoint.id });
    assert.equal(node.node, null);
    const update = await other.ok(
      `mutation ($id: ID!) { updateWebhookEndpoint(input: { id: $id, enabled: false }) { __typename } }`,
      { id: webhookEndpoint.id },
    );
    assert.equal(update.updateWebhookEndpoint.__typename, 'NotFoundError');
    const rotate = await other.ok(
      `mutation ($id: ID!) { rotateWebhookSecret(input: { id: $id }) { __typename } }`,
      {
        id: webhookEndpoint.id,
      },
    );
    assert.equal(rotate.rotateWebhookSecret.__typename, 'NotFoundError');
    const remove = await other.ok(
      `mutation ($id: ID!) { deleteWebhookEndpoint(input: { id: $id }) { __typename } }`,
      {
        id: webhookEndpoint.id,
      },
    );
    assert.equal(remove.deleteWebhookEndpoint.__typename, 'NotFoundError');

    // An event in `other` reaches only `other`'s endpoint.
    await other.ok(CREATE_API_KEY, { name: 'other key' });
    await waitFor(() => otherHook.received.length === 1);
    assert.equal(demoHook.received.length, 0);
    assert.deepEqual(await deliveries(other, { endpointId: webhookEndpoint.id }), []);

    // A demo event reaches demo's endpoint, and its delivery is invisible to `other`.
    await demo.ok(CREATE_API_KEY, { name: 'demo key' });
    await waitFor(() => demoHook.received.length === 1);
    const demoDelivery = await theDelivery(demo, { endpointId: webhookEndpoint.id }, 'the demo delivery');
    const deliveryNode = await other.ok(`query ($id: ID!) { node(id: $id) { id } }`, { id: demoDelivery.id });
    assert.equal(deliveryNode.node, null);
    const redeliver = await other.ok(
      `mutation ($id: ID!) { redeliverWebhook(input: { deliveryId: $id }) { __typename } }`,
      {
        id: demoDelivery.id,
      },
    );
    assert.equal(redeliver.redeliverWebhook.__typename, 'NotFoundError');

    const publicGraph = await env.publicClient
      .withToken(env.token('admin', 'demo'))
      .ok(`{ __type(name: "WebhookEndpoint") { name } __schema { mutationType { fields { name } } } }`);
    assert.equal(publicGraph.__type, null, 'webhooks live in the Admin graph only');
    assert.ok(!JSON.stringify(publicGraph.__schema).includes('Webhook'));

    const viewer = env.adminClient.withToken(env.token('viewer', 'demo'));
    const denied = await viewer.query(`{ webhookEndpoints { edges { node { id } } } }`);
    assert.equal(denied.errors?.[0]?.extensions?.code, 'FORBIDDEN');

    const deleted = await demo.ok(
      `mutation ($id: ID!) { deleteWebhookEndpoint(input: { id: $id }) {
        ... on DeleteWebhookEndpointPayload { deletedWebhookEndpointId } } }`,
      { id: webhookEndpoint.id },
    );
    assert.equal(deleted.deleteWebhookEndpoint.deletedWebhookEndpointId, webhookEndpoint.id);
    assert.deepEqual(await deliveries(demo, { endpointId: webhookEndpoint.id }), [], 'its log went with it');
  });

  test('the migrations create exactly what the entities describe', async () => {
    assert.equal(await schemaDrift(env.atrium.orm), '');
  });
});
