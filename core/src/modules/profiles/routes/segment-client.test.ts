import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Analytics } from '@segment/analytics-node';
import { sql } from '../../../db/sql.ts';
import { createTestEnvironment, type TestEnvironment } from '../../../testing/index.ts';

let env: TestEnvironment;
before(async () => {
  env = await createTestEnvironment();
});
after(() => env?.destroy());

test('the official Segment Node client, pointed at Atrium, lands its batch on the right profile', async () => {
  const created = await env.adminClient
    .withToken(env.token('admin'))
    .ok('mutation { createWriteKey(input: { name: "node" }) { ... on CreateWriteKeyPayload { key } } }');
  const analytics = new Analytics({ writeKey: created.createWriteKey.key, host: env.url, flushAt: 20 });
  const failures: unknown[] = [];
  analytics.on('error', (error) => failures.push(error));

  analytics.identify({
    anonymousId: 'device-42',
    userId: 'customer-42',
    traits: { email: 'Lea@Example.ch', firstName: 'Lea', plan: 'gold' },
  });
  for (let i = 0; i < 5; i++) {
    analytics.track({ userId: 'customer-42', event: 'Product Viewed', properties: { sku: `sku-${i}` } });
  }
  analytics.page({ anonymousId: 'device-42', name: 'Checkout', properties: { path: '/checkout' } });
  analytics.track({ userId: 'customer-42', event: 'Order Completed', properties: { revenue: 99.5 } });
  await analytics.closeAndFlush();
  assert.deepEqual(failures, []);

  const identities = await sql<{ profile_id: string; type: string; value: string }>(
    env.em(),
    'select profile_id, type, value from identity order by type',
  );
  assert.deepEqual(
    identities.map((i) => `${i.type}:${i.value}`),
    ['anonymous_id:device-42', 'email:lea@example.ch', 'user_id:customer-42'],
  );
  const profileId = identities[0]?.profile_id;
  assert.ok(
    identities.every((i) => i.profile_id === profileId),
    'one profile holds every identity',
  );

  const events = await sql<{ type: string; name: string | null; library: string }>(
    env.em(),
    `select type, name, context->'library'->>'name' as library from event where profile_id = $1`,
    [profileId],
  );
  assert.equal(events.length, 8);
  assert.equal(events.filter((e) => e.name === 'Product Viewed').length, 5);
  assert.ok(events.some((e) => e.type === 'page' && e.name === 'Checkout'));
  assert.ok(events.every((e) => e.library === '@segment/analytics-node'));
  const [profile] = await sql<{ traits: Record<string, unknown> }>(
    env.em(),
    'select traits from profile where id = $1',
    [profileId],
  );
  assert.deepEqual(profile?.traits, { email: 'Lea@Example.ch', firstName: 'Lea', plan: 'gold' });
});
