import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from '../../../db/sql.ts';
import { loadModules } from '../../../kernel/module-host.ts';
import { definePlugin } from '../../../kernel/plugin.ts';
import { createTestEnvironment, type TestEnvironment, waitFor } from '../../../testing/index.ts';
import { coreModules } from '../../index.ts';
import { defineSegmentOperator } from './operators.ts';
import { seedProfile } from './test-fixtures.ts';

/** A plugin's operator, as a loyalty plugin would declare it: a tier derived from the points trait. */
const loyaltyPlugin = definePlugin(() => ({
  name: 'loyalty',
  compatibility: '^1.0.0',
  segmentOperators: [
    defineSegmentOperator({
      code: 'loyalty.tier',
      label: 'Loyalty tier',
      description: 'Tier from the points trait: bronze < 100 ≤ silver < 1000 ≤ gold',
      args: { tier: { type: 'enum', label: 'Tier', options: ['bronze', 'silver', 'gold'] } },
      fn: (args, profile) => {
        const points = Number(profile.traits.points ?? 0);
        return (points >= 1000 ? 'gold' : points >= 100 ? 'silver' : 'bronze') === args.tier;
      },
    }),
  ],
}));

let env: TestEnvironment;
before(async () => {
  env = await createTestEnvironment({ plugins: [loyaltyPlugin()] });
});
after(() => env?.destroy());

test("a plugin's operator is listed, validated and evaluated like a built-in one", async () => {
  const editor = env.adminClient.withToken(env.token('editor'));
  const listed = await editor.ok('{ segmentOperators { code args { name type options } } }');
  const loyalty = listed.segmentOperators.find((o: any) => o.code === 'loyalty.tier');
  assert.deepEqual(loyalty.args, [{ name: 'tier', type: 'ENUM', options: ['bronze', 'silver', 'gold'] }]);

  const CREATE = `mutation ($input: CreateSegmentInput!) { createSegment(input: $input) {
    __typename ... on ValidationError { field message } } }`;
  const bad = await editor.ok(CREATE, {
    input: {
      key: 'platinum',
      name: 'Platinum',
      condition: { op: 'loyalty.tier', args: { tier: 'platinum' } },
    },
  });
  assert.equal(bad.createSegment.field, 'condition.args.tier');

  const demo = await env.workspace('demo');
  const gold = await seedProfile(env.atrium.orm, demo.id, {
    anonymousId: 'pl-gold',
    traits: { points: 1500 },
    emit: false,
  });
  await seedProfile(env.atrium.orm, demo.id, {
    anonymousId: 'pl-silver',
    traits: { points: 150 },
    emit: false,
  });
  const created = await editor.ok(CREATE, {
    input: { key: 'gold', name: 'Gold', condition: { op: 'loyalty.tier', args: { tier: 'gold' } } },
  });
  assert.equal(created.createSegment.__typename, 'CreateSegmentPayload');
  await waitFor(
    async () => {
      const rows = await sql<{ profile_id: string }>(
        env.em(),
        `select m.profile_id::text as profile_id from segment_membership m join segment s on s.id = m.segment_id where s.key = 'gold'`,
      );
      return rows.length === 1 && rows[0]?.profile_id === gold;
    },
    20000,
    'the gold member',
  );
});

test('two modules declaring the same operator code stop the boot', () => {
  const clash = definePlugin(() => ({
    name: 'clash',
    compatibility: '^1.0.0',
    segmentOperators: [
      defineSegmentOperator({ code: 'trait', label: 'Mine', description: 'x', args: {}, fn: () => true }),
    ],
  }));
  assert.throws(
    () => loadModules(coreModules, [clash()]),
    /segment operator "trait" that profiles already declares/,
  );
});
