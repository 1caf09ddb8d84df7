import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  createTestEnvironment,
  sweepForPersonalData,
  type TestEnvironment,
  waitFor,
} from '@atrium/core/testing';
import { WebhookDelivery, webhooksPlugin } from './index.ts';

const globalId = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString('base64');

const SET_CONSENT = `mutation ($id: ID!) {
  setConsent(input: { profileId: $id, purpose: MARKETING_SMS, granted: true, source: "app", policyVersion: "v1" }) { __typename }
}`;

describe('webhooks: GDPR export and erasure reach the delivery log', () => {
  let env: TestEnvironment;
  let server: ReturnType<typeof createServer>;
  let received = 0;

  /** A profile with one e-mail identity, written the way a fixture may: raw rows. */
  async function profileWithEmail(workspaceId: string, email: string): Promise<string> {
    const id = crypto.randomUUID();
    const em = env.em();
    await em.execute(
      `insert into profile (id, workspace_id, traits, computed_traits, first_seen_at, last_seen_at, created_at, updated_at)
       values (?, ?, '{}', '{}', now(), now(), now(), now())`,
      [id, workspaceId],
    );
    await em.execute(
      `insert into identity (id, workspace_id, profile_id, type, value, created_at)
       values (?, ?, ?, 'email', ?, now())`,
      [crypto.randomUUID(), workspaceId, id, email],
    );
    return id;
  }

  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        received += 1;
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    env = await createTestEnvironment({
      plugins: [webhooksPlugin({ allowPrivateNetworks: true, maxAttempts: 2, retryDelaySeconds: 1 })],
    });
  });
  after(async () => {
    await env?.destroy();
    server?.closeAllConnections();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
  });

  test('deliveries that carried the profile are exported, then erased with it; others stay', async () => {
    const demo = await env.workspace('demo');
    const admin = env.adminClient.withToken(env.token('admin'));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
    const created = await admin.ok(
      `mutation ($url: String!) { createWebhookEndpoint(input: { url: $url, eventTypes: ["*"] }) { __typename } }`,
      { url },
    );
    assert.equal(created.createWebhookEndpoint.__typename, 'CreateWebhookEndpointPayload');

    const profileId = await profileWithEmail(demo.id, 'wilma.webhook@example.com');
    const bystanderId = await profileWithEmail(demo.id, 'bystander.webhook@example.com');
    for (const id of [profileId, bystanderId]) await admin.ok(SET_CONSENT, { id: globalId('Profile', id) });
    await waitFor(() => received >= 2, 15000, 'both consent.changed webhooks');

    const exported = await admin.ok(
      'mutation ($id: ID!) { exportProfile(input: { profileId: $id }) { ... on ExportProfilePayload { document } } }',
      { id: globalId('Profile', profileId) },
    );
    const { deliveries } = exported.exportProfile.document.modules.webhooks;
    assert.equal(deliveries.length, 1);
    assert.equal(deliveries[0].eventType, 'consent.changed');
    assert.deepEqual(deliveries[0].payload.data, { profileId, purpose: 'marketing_sms', granted: true });

    const erased = await admin.ok(
      `mutation ($id: ID!) { eraseProfile(input: { profileId: $id }) {
         __typename ... on EraseProfilePayload { erasure { removed } } } }`,
      { id: globalId('Profile', profileId) },
    );
    assert.equal(erased.eraseProfile.__typename, 'EraseProfilePayload');
    assert.equal(erased.eraseProfile.erasure.removed.webhooks, 1);

    const needles = [profileId, 'wilma.webhook@example.com'];
    const sweep = await sweepForPersonalData(env.databaseUrl, needles);
    assert.ok(sweep.tables.includes('public.webhook_delivery'));
    assert.deepEqual(sweep.hits, []);
    const em = env.em();
    const left = await em.find(WebhookDelivery, { eventType: 'consent.changed' }, { filters: false });
    assert.deepEqual(
      left.map((d) => (d.payload.data as { profileId?: string }).profileId),
      [bystanderId],
    );

    // profile.erased goes out too, naming the tombstone only.
    const erasedDelivery = await waitFor(
      () =>
        env
          .em()
          .findOne(WebhookDelivery, { eventType: 'profile.erased', status: 'succeeded' }, { filters: false }),
      15000,
      'the profile.erased webhook',
    );
    assert.deepEqual(Object.keys(erasedDelivery.payload.data).sort(), ['erasureId', 'removed']);
    assert.deepEqual((await sweepForPersonalData(env.databaseUrl, needles)).hits, []);
  });
});
