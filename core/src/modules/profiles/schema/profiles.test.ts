import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from '../../../db/sql.ts';
import { createTestEnvironment, type TestEnvironment } from '../../../testing/index.ts';
import { OutboxEvent } from '../../outbox/entities.ts';
import type { WorkspaceEntity } from '../../workspaces/entities.ts';
import { normaliseIdentity } from '../service/identities.ts';
import { defaultIdentityRules } from '../service/identity-rules.ts';
import { resolveProfiles } from '../service/resolution.ts';

let env: TestEnvironment;
let demo: WorkspaceEntity;
before(async () => {
  env = await createTestEnvironment();
  demo = await env.workspace('demo');
});
after(() => env?.destroy());

const gid = (id: string) => Buffer.from(`Profile:${id}`).toString('base64');
const agent = () => env.adminClient.withToken(env.token('agent'));

/** A profile known by these identities, with one event, made the way ingestion makes them. */
async function profileWith(
  keys: [Parameters<typeof normaliseIdentity>[0], string][],
  eventName = 'Viewed',
): Promise<string> {
  return env.atrium.orm.em.fork().transactional(async (em) => {
    const sightings = [
      { keys: keys.map(([t, v]) => normaliseIdentity(t, v)), at: new Date(), source: 'test' },
    ];
    const [profileId] = (await resolveProfiles(em, demo.id, sightings, defaultIdentityRules)).profileIds;
    await sql(
      em,
      `insert into event (id, workspace_id, profile_id, message_id, type, name, timestamp, received_at)
       values (gen_random_uuid(), $1, $2, gen_random_uuid()::text, 'track', $3, now(), now())`,
      [demo.id, profileId, eventName],
    );
    return profileId as string;
  });
}

test('an agent reads a profile with identities and its timeline; a viewer may not', async () => {
  const id = await profileWith(
    [
      ['email', 'Ada@Example.com'],
      ['anonymous_id', 'a-1'],
    ],
    'Order Completed',
  );
  const data = await agent().ok(
    `query ($id: ID!) { profile(id: $id) { id identities { type value } timeline { edges { node { name type } } } } }`,
    { id: gid(id) },
  );
  assert.deepEqual(data.profile.identities, [
    { type: 'ANONYMOUS_ID', value: 'a-1' },
    { type: 'EMAIL', value: 'ada@example.com' },
  ]);
  assert.deepEqual(data.profile.timeline.edges, [{ node: { name: 'Order Completed', type: 'TRACK' } }]);
  const viewer = await env.adminClient
    .withToken(env.token('viewer'))
    .query(`query ($id: ID!) { profile(id: $id) { id } }`, {
      id: gid(id),
    });
  assert.equal(viewer.errors?.[0]?.extensions?.code, 'FORBIDDEN');
});

test('profiles are filtered by identity and trait, and never cross workspaces', async () => {
  const id = await profileWith([['user_id', 'u-filter']]);
  await agent().ok(
    `mutation ($id: ID!) { setProfileTraits(input: { profileId: $id, traits: { plan: "gold" } }) { __typename } }`,
    {
      id: gid(id),
    },
  );
  const byTrait = await agent().ok(
    `{ profiles(filter: { traits: [{ key: "plan", equals: "gold" }] }) { edges { node { id } } } }`,
  );
  assert.deepEqual(byTrait.profiles.edges, [{ node: { id: gid(id) } }]);
  const byIdentity = await agent().ok(
    `{ profiles(filter: { identity: { type: USER_ID, value: "u-filter" } }) { edges { node { id } } } }`,
  );
  assert.equal(byIdentity.profiles.edges.length, 1);
  const other = env.adminClient.withToken(env.token('agent', 'other'));
  assert.deepEqual((await other.ok('{ profiles { edges { node { id } } } }')).profiles.edges, []);
  assert.equal(
    (await other.ok('query ($id: ID!) { profile(id: $id) { id } }', { id: gid(id) })).profile,
    null,
  );
});

test('traits follow the trait schema; a bad one is refused by name and nothing changes', async () => {
  const admin = env.adminClient.withToken(env.token('admin'));
  await admin.ok('mutation { defineTrait(input: { key: "age", kind: NUMBER }) { __typename } }');
  const id = await profileWith([['user_id', 'u-traits']]);
  const bad = await agent().ok(
    `mutation ($id: ID!) { setProfileTraits(input: { profileId: $id, traits: { age: "old", city: "Bern" } }) { __typename ... on ValidationError { field message } } }`,
    { id: gid(id) },
  );
  assert.deepEqual(bad.setProfileTraits, {
    __typename: 'ValidationError',
    field: 'traits.age',
    message: 'traits.age must be a number',
  });
  const ok = await agent().ok(
    `mutation ($id: ID!) { setProfileTraits(input: { profileId: $id, traits: { age: 42, city: "Bern" } }) { ... on SetProfileTraitsPayload { profile { traits } } } }`,
    { id: gid(id) },
  );
  assert.deepEqual(ok.setProfileTraits.profile.traits, { age: 42, city: 'Bern' });
  const removed = await agent().ok(
    `mutation ($id: ID!) { setProfileTraits(input: { profileId: $id, traits: { city: null } }) { ... on SetProfileTraitsPayload { profile { traits } } } }`,
    { id: gid(id) },
  );
  assert.deepEqual(removed.setProfileTraits.profile.traits, { age: 42 });
  const changes = await env
    .em()
    .find(OutboxEvent, { type: 'profile.traits-changed', subject: id }, { filters: false });
  assert.equal(changes.length, 2, 'one event per change that changed something');
});

test('a manual merge is previewed, checked against the identity rules and explained', async () => {
  const a = await profileWith([
    ['user_id', 'u-m1'],
    ['email', 'm1@example.com'],
  ]);
  const b = await profileWith([['anonymous_id', 'anon-m1']]);
  const c = await profileWith([['user_id', 'u-m2']]);
  const preview = await agent().ok(
    'query ($s: ID!, $m: ID!) { mergePreview(survivorId: $s, mergedId: $m) { allowed reason identities events } }',
    { s: gid(a), m: gid(b) },
  );
  assert.deepEqual(preview.mergePreview, {
    allowed: true,
    reason: 'allowed: 1 identities and 1 events would move',
    identities: 1,
    events: 1,
  });

  const refused = await agent().ok(
    'mutation ($s: ID!, $m: ID!) { mergeProfiles(input: { survivorId: $s, mergedId: $m }) { __typename ... on ValidationError { message } } }',
    { s: gid(a), m: gid(c) },
  );
  assert.equal(refused.mergeProfiles.__typename, 'ValidationError');
  assert.match(refused.mergeProfiles.message, /2 user_id identities \(at most 1\)/);

  const merged = await agent().ok(
    'mutation ($s: ID!, $m: ID!) { mergeProfiles(input: { survivorId: $s, mergedId: $m, note: "same customer on the phone" }) { ... on MergeProfilesPayload { reason profile { identities { type } timeline { edges { node { name } } } merges { mergedProfileId reason } } } } }',
    { s: gid(a), m: gid(b) },
  );
  const { profile, reason } = merged.mergeProfiles;
  assert.match(reason, /^merged by dev-agent through the API: same customer on the phone$/);
  assert.equal(profile.identities.length, 3);
  assert.equal(profile.timeline.edges.length, 2);
  assert.deepEqual(profile.merges, [{ mergedProfileId: b, reason }]);
  const gone = await agent().ok('query ($id: ID!) { profile(id: $id) { id } }', { id: gid(b) });
  assert.equal(gone.profile, null);
  const events = await env.em().find(OutboxEvent, { type: 'profile.merged', subject: a }, { filters: false });
  assert.equal(events.length, 1);
});

test('identity rules are admin settings with typed errors', async () => {
  const admin = env.adminClient.withToken(env.token('admin'));
  const bad = await admin.ok(
    'mutation { setIdentityRule(input: { type: EMAIL, priority: 2, maxPerProfile: 0 }) { __typename ... on ValidationError { field } } }',
  );
  assert.deepEqual(bad.setIdentityRule, { __typename: 'ValidationError', field: 'maxPerProfile' });
  const set = await admin.ok(
    'mutation { setIdentityRule(input: { type: EMAIL, priority: 2, maxPerProfile: 1 }) { ... on SetIdentityRulePayload { rules { type maxPerProfile } } } }',
  );
  assert.deepEqual(
    set.setIdentityRule.rules.find((r: { type: string }) => r.type === 'EMAIL'),
    { type: 'EMAIL', maxPerProfile: 1 },
  );
  const forbidden = await agent().query('{ identityRules { type } }');
  assert.equal(forbidden.errors?.[0]?.extensions?.code, 'FORBIDDEN');
});

test('trait names are taken as clients write them, except a leading $', async () => {
  const id = await profileWith([['user_id', 'u-names']]);
  const set = (traits: Record<string, unknown>) =>
    agent().ok(
      `mutation ($id: ID!, $traits: JSON!) { setProfileTraits(input: { profileId: $id, traits: $traits }) { __typename ... on ValidationError { field } } }`,
      { id: gid(id), traits },
    );
  assert.equal(
    (await set({ 'First Name': 'Ada', 'plan.tier': 'gold' })).setProfileTraits.__typename,
    'SetProfileTraitsPayload',
  );
  assert.deepEqual((await set({ $where: 'x' })).setProfileTraits, {
    __typename: 'ValidationError',
    field: 'traits.$where',
  });
});
