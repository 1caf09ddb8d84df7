import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { ValidationError } from '../../../kernel/errors.ts';
import { createTestEnvironment, type TestEnvironment } from '../../../testing/index.ts';
import { builtInSegmentOperators } from '../../profiles/segments/operators.ts';
import { seedProfile } from '../../profiles/segments/test-fixtures.ts';
import { fallbackChain } from '../service/locales.ts';
import { resolveContent } from './resolve.ts';
import { doc, seedEntry, seedLocales, seedSegmentMember, seedType } from './test-fixtures.ts';
import { checkVariants } from './variants.ts';

let env: TestEnvironment;
let demoId: string;
const profiles: Record<string, string> = {};

const proCondition = { op: 'trait', args: { trait: 'plan', comparator: 'equals', value: 'pro' } };

before(async () => {
  env = await createTestEnvironment();
  const orm = env.atrium.orm;
  demoId = (await env.workspace('demo')).id;
  const otherId = (await env.workspace('other')).id;
  await seedLocales(orm, demoId, [
    { code: 'en', isDefault: true },
    { code: 'de', fallback: 'en' },
    { code: 'de-CH', fallback: 'de' },
  ]);
  await seedType(orm, demoId, {
    key: 'banner',
    isBlock: true,
    fields: [{ key: 'headline', kind: 'text' }],
  });
  const landing = await seedType(orm, demoId, {
    key: 'landing',
    fields: [
      { key: 'title', kind: 'text', localized: true },
      { key: 'body', kind: 'rich_text', localized: true },
      { key: 'price', kind: 'number' },
      { key: 'sections', kind: 'blocks', localized: true, blockTypes: ['banner'] },
    ],
  });
  await seedEntry(orm, demoId, {
    typeId: landing,
    key: 'home',
    values: {
      en: {
        title: 'Welcome',
        body: doc('Hello'),
        sections: [
          {
            type: 'banner',
            id: 'b1',
            fields: { headline: 'Spring sale' },
            variants: [
              { key: 'pro-banner', audience: { condition: proCondition }, fields: { headline: 'Pro deals' } },
            ],
          },
          { type: 'banner', id: 'b2', fields: { headline: 'Free shipping' } },
        ],
      },
      de: { title: 'Willkommen' },
      '*': { price: 10 },
    },
    variants: [
      { key: 'vip', audience: { segmentKey: 'vip' }, fields: { en: { title: 'Welcome back, VIP' } } },
      { key: 'pro', audience: { condition: proCondition }, fields: { en: { title: 'Welcome, Pro' } } },
    ],
  });
  await seedEntry(orm, demoId, {
    typeId: landing,
    key: 'draft-page',
    values: { en: { title: 'Soon' } },
    published: false,
  });
  await seedEntry(orm, demoId, {
    typeId: landing,
    key: 'agent-notes',
    visibility: 'internal',
    values: { en: { title: 'Internal notes' } },
  });
  profiles.vip = await seedProfile(orm, demoId, {
    anonymousId: 'anon-vip',
    traits: { tier: 'vip', plan: 'pro' },
  });
  profiles.pro = await seedProfile(orm, demoId, { anonymousId: 'anon-pro', traits: { plan: 'pro' } });
  profiles.basic = await seedProfile(orm, demoId, { anonymousId: 'anon-basic', traits: { plan: 'free' } });
  profiles.foreign = await seedProfile(orm, otherId, {
    anonymousId: 'anon-foreign',
    traits: { tier: 'vip', plan: 'pro' },
  });
  const tierVip = { op: 'trait', args: { trait: 'tier', comparator: 'equals', value: 'vip' } };
  await seedSegmentMember(orm, demoId, 'vip', profiles.vip as string, tierVip);
  await seedSegmentMember(orm, otherId, 'vip', profiles.foreign as string, tierVip);
});
after(() => env?.destroy());

const RESOLVE = `query ($key: String!, $locale: String!, $profileId: ID) {
  resolveContent(key: $key, locale: $locale, profileId: $profileId) {
    __typename
    ... on ResolvedContent { key typeKey version locale fields fieldLocales variant { key } reason
      blocks { path type id variant { key } reason } }
    ... on Error { code message }
  }
}`;

const agent = (workspace = 'demo') => env.adminClient.withToken(env.token('agent', workspace));
const reader = () => env.publicClient.withToken(env.token('reader'));
const resolve = async (vars: { key: string; locale: string; profile?: string }, client = agent()) =>
  (
    await client.ok(RESOLVE, {
      key: vars.key,
      locale: vars.locale,
      profileId: vars.profile ? encodeGlobalID('Profile', vars.profile) : null,
    })
  ).resolveContent;

describe('variant resolution', () => {
  test('a segment audience wins in list order and says which segment', async () => {
    const r = await resolve({ key: 'home', locale: 'en', profile: profiles.vip });
    assert.equal(r.__typename, 'ResolvedContent');
    assert.deepEqual(r.variant, { key: 'vip' });
    assert.equal(r.reason, 'profile is in segment "vip"');
    assert.equal(r.fields.title, 'Welcome back, VIP');
    assert.equal(r.fields.price, 10, 'values the variant leaves alone stay');
  });

  test('a trait audience says which traits matched', async () => {
    const r = await resolve({ key: 'home', locale: 'en', profile: profiles.pro });
    assert.deepEqual(r.variant, { key: 'pro' });
    assert.equal(r.reason, 'traits matched plan equals "pro"');
    assert.equal(r.fields.title, 'Welcome, Pro');
  });

  test('no matching audience, or no profile, gets the default content', async () => {
    for (const profile of [profiles.basic, undefined]) {
      const r = await resolve({ key: 'home', locale: 'en', profile });
      assert.equal(r.variant, null);
      assert.equal(r.reason, 'no variant matched: default content');
      assert.equal(r.fields.title, 'Welcome');
    }
  });

  test('blocks choose their own variants; readers never see the variants themselves', async () => {
    const pro = await resolve({ key: 'home', locale: 'en', profile: profiles.pro });
    assert.deepEqual(pro.blocks, [
      {
        path: 'sections[0]',
        type: 'banner',
        id: 'b1',
        variant: { key: 'pro-banner' },
        reason: 'traits matched plan equals "pro"',
      },
    ]);
    assert.equal(pro.fields.sections[0].fields.headline, 'Pro deals');
    assert.equal(pro.fields.sections[1].fields.headline, 'Free shipping');
    assert.equal(JSON.stringify(pro.fields).includes('variants'), false);
    const basic = await resolve({ key: 'home', locale: 'en', profile: profiles.basic });
    assert.equal(basic.fields.sections[0].fields.headline, 'Spring sale');
    assert.equal(basic.blocks[0].reason, 'no variant matched: default content');
  });

  test('values fall back along the locale chain, field by field', async () => {
    const r = await resolve({ key: 'home', locale: 'de-CH', profile: profiles.basic });
    assert.equal(r.locale, 'de-CH');
    assert.equal(r.fields.title, 'Willkommen');
    assert.deepEqual(r.fieldLocales, { title: 'de', body: 'en', sections: 'en', price: '*' });
    assert.deepEqual(fallbackChain([{ code: 'de', fallback: 'de' }], 'de'), ['de'], 'a cycle stops');
  });

  test('a variant only for English leaves German readers their language', async () => {
    const r = await resolve({ key: 'home', locale: 'de', profile: profiles.vip });
    assert.deepEqual(r.variant, { key: 'vip' });
    assert.equal(r.fields.title, 'Willkommen');
  });
});

describe('what may be resolved', () => {
  test('drafts, unknown keys and unknown locales answer with typed errors', async () => {
    assert.equal((await resolve({ key: 'draft-page', locale: 'en' })).code, 'NOT_FOUND');
    assert.equal((await resolve({ key: 'nope', locale: 'en' })).code, 'NOT_FOUND');
    const bad = await resolve({ key: 'home', locale: 'fr' });
    assert.equal(bad.__typename, 'ValidationError');
    assert.match(bad.message, /locale "fr"/);
  });

  test('internal entries reach agents on the Admin graph, never the Public graph', async () => {
    assert.equal((await resolve({ key: 'agent-notes', locale: 'en' })).fields.title, 'Internal notes');
    const publicAnswer = await resolve({ key: 'agent-notes', locale: 'en' }, reader());
    assert.equal(publicAnswer.code, 'NOT_FOUND');
    const home = await resolve({ key: 'home', locale: 'en', profile: profiles.pro }, reader());
    assert.deepEqual(home.variant, { key: 'pro' }, 'frontends personalize through the Public graph');
  });

  test('analysts and anonymous callers are refused', async () => {
    const analyst = await env.adminClient
      .withToken(env.token('analyst'))
      .query(RESOLVE, { key: 'home', locale: 'en' });
    assert.equal(analyst.errors?.[0]?.extensions?.code, 'FORBIDDEN');
    const anonymous = await env.publicClient.query(RESOLVE, { key: 'home', locale: 'en' });
    assert.equal(anonymous.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
  });

  test('workspaces are isolated: content and profiles of another workspace do not count', async () => {
    assert.equal((await resolve({ key: 'home', locale: 'en' }, agent('other'))).code, 'NOT_FOUND');
    const r = await resolve({ key: 'home', locale: 'en', profile: profiles.foreign });
    assert.equal(r.variant, null, "another workspace's vip member is nobody here");
  });

  test('the service gives the entry and version it read', async () => {
    const r = await resolveContent(env.em(), demoId, 'home', { locale: 'en', profileId: profiles.pro });
    assert.equal(r.entry.key, 'home');
    assert.equal(r.version.version, 1);
    await assert.rejects(
      resolveContent(env.em(), demoId, 'home', { locale: 'en', profileId: 'not-a-uuid' }),
      (e: unknown) => e instanceof ValidationError && e.field === 'profileId',
    );
  });
});

describe('variant shape', () => {
  test('checkVariants names the path of what is wrong', () => {
    const check = (raw: unknown) => {
      try {
        checkVariants(raw, builtInSegmentOperators);
        return null;
      } catch (e) {
        return (e as ValidationError).field;
      }
    };
    assert.equal(
      check([{ key: 'a', audience: { condition: { op: 'nope', args: {} } }, fields: {} }]),
      'variants[0].audience.condition.op',
    );
    assert.equal(check([{ key: 'a', audience: {}, fields: {} }]), 'variants[0].audience');
    assert.equal(
      check([
        { key: 'a', audience: { segmentKey: 'vip' }, fields: {} },
        { key: 'a', audience: { segmentKey: 'vip' }, fields: {} },
      ]),
      'variants[1].key',
    );
    assert.equal(
      check([{ key: 'a', audience: { segmentKey: 'vip' }, fields: {}, extra: 1 }]),
      'variants[0].extra',
    );
    assert.equal(
      check([{ key: 'a', audience: { condition: proCondition }, fields: { en: { title: 'x' } } }]),
      null,
    );
  });
});
