import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { EntityManager } from '@mikro-orm/postgresql';
import { WORKSPACE_FILTER } from '../../../db/orm.ts';
import { sql } from '../../../db/sql.ts';
import { createTestEnvironment, type TestEnvironment } from '../../../testing/index.ts';
import type { WorkspaceEntity } from '../../workspaces/entities.ts';
import { Identity, Profile, ProfileMerge } from '../entities.ts';
import { type IdentityKey, normaliseIdentity } from './identities.ts';
import { defaultIdentityRules } from './identity-rules.ts';
import { resolveProfiles } from './resolution.ts';

let env: TestEnvironment;
let demo: WorkspaceEntity;
before(async () => {
  env = await createTestEnvironment();
  demo = await env.workspace('demo');
});
after(() => env?.destroy());

const key = (type: IdentityKey['type'], value: string) => normaliseIdentity(type, value);

async function resolve(...sightings: IdentityKey[][]) {
  return env.atrium.orm.em.fork().transactional((em) =>
    resolveProfiles(
      em,
      demo.id,
      sightings.map((keys, i) => ({ keys, at: new Date(), source: `message m${i}` })),
      defaultIdentityRules,
    ),
  );
}

function scoped(): EntityManager {
  const em = env.em();
  em.setFilterParams(WORKSPACE_FILTER, { id: demo.id });
  return em;
}

test('normalisation: e-mail lower-cased, phone to E.164, bad values named', () => {
  assert.deepEqual(key('email', '  Anna.Muster@Example.CH '), {
    type: 'email',
    value: 'anna.muster@example.ch',
  });
  assert.deepEqual(key('phone', '0041 79 123 45 67'), { type: 'phone', value: '+41791234567' });
  assert.deepEqual(key('phone', '+41 (79) 123-45-67'), { type: 'phone', value: '+41791234567' });
  assert.throws(() => key('phone', '079 123 45 67'), /international format/);
  assert.throws(
    () => normaliseIdentity('email', 'not-an-email', 'traits.email'),
    (e: Error & { field?: string }) => e.field === 'traits.email',
  );
  assert.throws(() => key('user_id', '   '), /must not be empty/);
});

test('an unknown visitor gets a profile; coming back finds the same one', async () => {
  const first = await resolve([key('anonymous_id', 'anon-1')]);
  assert.equal(first.createdProfileIds.length, 1);
  const again = await resolve([key('anonymous_id', 'anon-1')]);
  assert.deepEqual(again.profileIds, first.profileIds);
  assert.equal(again.createdProfileIds.length, 0);
});

test('logging in links user id and e-mail to the anonymous profile; a second device joins by e-mail', async () => {
  const [anonProfile] = (await resolve([key('anonymous_id', 'anon-2')])).profileIds;
  const login = await resolve([
    key('anonymous_id', 'anon-2'),
    key('user_id', 'u-2'),
    key('email', 'Zoe@Example.com'),
  ]);
  assert.deepEqual(login.profileIds, [anonProfile]);
  const phone = await resolve([key('anonymous_id', 'anon-2b'), key('email', 'zoe@example.com')]);
  assert.deepEqual(phone.profileIds, [anonProfile]);
  const identities = await scoped().find(
    Identity,
    { profile: anonProfile as string },
    { orderBy: { type: 'asc', value: 'asc' } },
  );
  assert.deepEqual(
    identities.map((i) => `${i.type}:${i.value}`),
    ['anonymous_id:anon-2', 'anonymous_id:anon-2b', 'email:zoe@example.com', 'user_id:u-2'],
  );
});

test('identities of two profiles merge them, keep a record that explains why, and move everything', async () => {
  const [known] = (await resolve([key('user_id', 'u-3')])).profileIds;
  const [visitor] = (await resolve([key('anonymous_id', 'anon-3'), key('email', 'max@example.com')]))
    .profileIds;
  assert.notEqual(known, visitor);
  await sql(scoped(), `update profile set traits = '{"plan":"pro"}' where id = $1`, [visitor]);

  const both = await resolve([key('user_id', 'u-3'), key('email', 'max@example.com')]);
  assert.deepEqual(both.profileIds, [known], 'the profile with the user id survives');
  assert.equal(both.merges.length, 1);
  assert.match(
    both.merges[0]?.reason ?? '',
    /merged because message m0 carried user_id \*\*\* and email m\*\*\*@example\.com/,
  );

  const em = scoped();
  assert.equal(await em.count(Profile, { id: visitor as string }), 0);
  assert.equal(await em.count(Identity, { profile: known as string }), 3);
  const survivor = await em.findOneOrFail(Profile, { id: known as string });
  assert.deepEqual(survivor.traits, { plan: 'pro' });
  const record = await em.findOneOrFail(ProfileMerge, { mergedProfileId: visitor as string });
  assert.equal(record.survivor.id, known);
});

test('a merge that would give one profile two user ids is refused and explained', async () => {
  const [a] = (await resolve([key('user_id', 'u-4a'), key('email', 'shared@example.com')])).profileIds;
  const [b] = (await resolve([key('user_id', 'u-4b')])).profileIds;
  const conflict = await resolve([key('user_id', 'u-4b'), key('email', 'shared@example.com')]);
  assert.equal(conflict.merges.length, 0);
  assert.equal(conflict.refusedMerges.length, 1);
  assert.match(conflict.refusedMerges[0]?.reason ?? '', /would hold 2 user_id identities \(at most 1\)/);
  assert.deepEqual(conflict.profileIds, [b]);
  assert.equal(
    await scoped().count(Profile, { id: { $in: [a as string, b as string] } }),
    2,
    'both profiles still exist',
  );
});

test('concurrent first sightings of the same visitor make one profile', async () => {
  const results = await Promise.all(
    Array.from({ length: 6 }, () => resolve([key('anonymous_id', 'anon-race')])),
  );
  assert.equal(new Set(results.map((r) => r.profileIds[0])).size, 1);
  assert.equal(await scoped().count(Identity, { type: 'anonymous_id', value: 'anon-race' }), 1);
});

test('within one batch, later messages see what earlier ones linked', async () => {
  const batch = await resolve(
    [key('anonymous_id', 'anon-5')],
    [key('anonymous_id', 'anon-5'), key('email', 'five@example.com')],
    [key('email', 'five@example.com'), key('user_id', 'u-5')],
  );
  assert.equal(new Set(batch.profileIds).size, 1);
  assert.equal(batch.createdProfileIds.length, 1);
});
