import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from '../../../db/sql.ts';
import {
  createTestEnvironment,
  type GraphQLClient,
  type TestEnvironment,
  waitFor,
} from '../../../testing/index.ts';
import type { WorkspaceEntity } from '../../workspaces/entities.ts';
import { addEvents, seedProfile } from './test-fixtures.ts';

let env: TestEnvironment;
let demo: WorkspaceEntity;
let editor: GraphQLClient;
let ada: string;

before(async () => {
  env = await createTestEnvironment();
  demo = await env.workspace('demo');
  editor = env.adminClient.withToken(env.token('editor'));
  ada = await seedProfile(env.atrium.orm, demo.id, {
    anonymousId: 'ct-ada',
    events: [
      { name: 'Order Completed', daysAgo: 0, properties: { total: 100, currency: 'CHF' } },
      { name: 'Order Completed', daysAgo: 7, properties: { total: 50.5, currency: 'EUR' } },
      { name: 'Order Completed', daysAgo: 120, properties: { total: 1000 } },
      { name: 'Page Viewed', daysAgo: 0 },
    ],
    emit: false,
  });
});
after(() => env?.destroy());

const CREATE = `mutation ($input: CreateComputedTraitInput!) {
  createComputedTrait(input: $input) {
    __typename
    ... on CreateComputedTraitPayload { computedTrait { id key kind config } }
    ... on ValidationError { field message }
  }
}`;

async function computedTraits(profileId: string): Promise<Record<string, unknown>> {
  const [row] = await sql<{ computed_traits: Record<string, unknown> }>(
    env.em(),
    `select computed_traits from profile where id = $1`,
    [profileId],
  );
  return row?.computed_traits ?? {};
}

async function define(key: string, kind: string, config: Record<string, unknown>) {
  const result = (await editor.ok(CREATE, { input: { key, kind, config } })).createComputedTrait;
  assert.equal(result.__typename, 'CreateComputedTraitPayload', JSON.stringify(result));
  return result.computedTrait;
}

test('bad definitions are refused with the config path', async () => {
  const cases: [string, string, unknown, string, RegExp][] = [
    [
      'orders',
      'EVENT_COUNT',
      { event: 'Order Completed', windowDays: 0 },
      'config.windowDays',
      /between 1 and 3650/,
    ],
    ['orders', 'EVENT_COUNT', { windowDays: 5 }, 'config.event', /is required/],
    ['ltv', 'PROPERTY_SUM', { event: 'Order Completed' }, 'config.property', /is required/],
    [
      'ltv',
      'PROPERTY_SUM',
      { event: 'Order Completed', property: 'total', colour: 1 },
      'config.colour',
      /not an argument/,
    ],
    ['9 lives', 'EVENT_COUNT', { event: 'x' }, 'key', /letters, digits/],
  ];
  for (const [key, kind, config, field, message] of cases) {
    const result = (await editor.ok(CREATE, { input: { key, kind, config } })).createComputedTrait;
    assert.equal(result.__typename, 'ValidationError');
    assert.equal(result.field, field);
    assert.match(result.message, message);
  }
  const [row] = await sql<{ n: string }>(env.em(), 'select count(*) as n from computed_trait_definition');
  assert.equal(Number(row?.n), 0);
});

test('definitions fill every profile by a recompute, then stay current on each ingest', async () => {
  await define('orders_90d', 'EVENT_COUNT', { event: 'Order Completed', windowDays: 90 });
  await define('ltv', 'PROPERTY_SUM', { event: 'Order Completed', property: 'total' });
  await define('last_order_at', 'LAST_EVENT', { event: 'Order Completed' });
  await define('last_currency', 'LAST_EVENT', { event: 'Order Completed', property: 'currency' });
  const engagement = await define('engagement', 'ENGAGEMENT_SCORE', {});
  assert.deepEqual(engagement.config, { windowDays: 30, halfLifeDays: 7 }, 'defaults are stored');

  const traits = await waitFor(
    async () => {
      const t = await computedTraits(ada);
      return Object.keys(t).length === 5 ? t : null;
    },
    20000,
    'the recompute',
  );
  assert.equal(traits.orders_90d, 2);
  assert.equal(traits.ltv, 1150.5);
  assert.equal(traits.last_currency, 'CHF');
  assert.ok(Math.abs(Date.parse(traits.last_order_at as string) - Date.now()) < 60_000);
  // Two events today count 1 each, the one a week old counts 0.5: 2.5 (a few seconds of decay aside).
  assert.ok(Math.abs((traits.engagement as number) - 2.5) < 0.01, String(traits.engagement));

  await addEvents(env.atrium.orm, demo.id, ada, [
    { name: 'Order Completed', properties: { total: 9.5, currency: 'USD' } },
  ]);
  const next = await waitFor(
    async () => {
      const t = await computedTraits(ada);
      return t.orders_90d === 3 ? t : null;
    },
    15000,
    'the incremental update',
  );
  assert.equal(next.ltv, 1160);
  assert.equal(next.last_currency, 'USD');

  const listed = await env.adminClient
    .withToken(env.token('analyst'))
    .ok('{ computedTraitDefinitions { key kind } computedTraitKinds { kind config { name type } } }');
  assert.deepEqual(
    listed.computedTraitDefinitions.map((d: any) => d.key),
    ['engagement', 'last_currency', 'last_order_at', 'ltv', 'orders_90d'],
  );
  assert.equal(listed.computedTraitKinds.length, 4);
});

test('segments compare computed traits; a trait in use cannot be deleted, an unused one disappears', async () => {
  const created = await editor.ok(
    `mutation ($input: CreateSegmentInput!) { createSegment(input: $input) { __typename ... on CreateSegmentPayload { segment { id } } ... on ValidationError { message } } }`,
    {
      input: {
        key: 'big-spenders',
        name: 'Big spenders',
        condition: { op: 'computed_trait', args: { trait: 'ltv', comparator: 'gte', value: 1000 } },
      },
    },
  );
  assert.equal(created.createSegment.__typename, 'CreateSegmentPayload', JSON.stringify(created));
  const members = async () =>
    (
      await sql<{ profile_id: string }>(
        env.em(),
        `select m.profile_id::text as profile_id from segment_membership m join segment s on s.id = m.segment_id where s.key = 'big-spenders'`,
      )
    ).map((r) => r.profile_id);
  await waitFor(async () => (await members()).includes(ada), 20000, 'ada to be a big spender');

  // A new profile crosses the line with its first events: computed traits update before segments.
  const bo = await seedProfile(env.atrium.orm, demo.id, {
    anonymousId: 'ct-bo',
    events: [{ name: 'Order Completed', properties: { total: 2000 } }],
  });
  await waitFor(async () => (await members()).includes(bo), 15000, 'bo to be a big spender');

  const ids = Object.fromEntries(
    (await editor.ok('{ computedTraitDefinitions { id key } }')).computedTraitDefinitions.map((d: any) => [
      d.key,
      d.id,
    ]),
  );
  const DELETE = `mutation ($input: DeleteComputedTraitInput!) { deleteComputedTrait(input: $input) {
    __typename ... on DeleteComputedTraitPayload { key } ... on ValidationError { field message } } }`;
  const refused = (await editor.ok(DELETE, { input: { id: ids.ltv } })).deleteComputedTrait;
  assert.equal(refused.__typename, 'ValidationError');
  assert.match(refused.message, /used by segments: big-spenders/);

  const deleted = (await editor.ok(DELETE, { input: { id: ids.last_currency } })).deleteComputedTrait;
  assert.equal(deleted.key, 'last_currency');
  await waitFor(async () => !('last_currency' in (await computedTraits(ada))), 20000, 'the value to go');
  assert.equal((await computedTraits(ada)).ltv, 1160);
});

test('definitions of demo are invisible to other', async () => {
  const other = env.adminClient.withToken(env.token('editor', 'other'));
  const data = await other.ok('{ computedTraitDefinitions { key } }');
  assert.deepEqual(data.computedTraitDefinitions, []);
});
