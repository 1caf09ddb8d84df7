import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from '../../../db/sql.ts';
import { createTestEnvironment, type GraphQLClient, type TestEnvironment } from '../../../testing/index.ts';
import { normaliseIdentity } from '../../profiles/service/identities.ts';
import { defaultIdentityRules } from '../../profiles/service/identity-rules.ts';
import { resolveProfiles } from '../../profiles/service/resolution.ts';

let env: TestEnvironment;
let admin: GraphQLClient;

/** Runs a `verbNoun(input)` mutation; `payload` selects from its success type. */
async function mutate(name: string, input: Record<string, unknown>, payload = '__typename') {
  const type = `${name[0]?.toUpperCase()}${name.slice(1)}`;
  const data = await admin.ok(
    `mutation ($input: ${type}Input!) { ${name}(input: $input) { __typename ... on ${type}Payload { ${payload} } ... on ValidationError { field message } } }`,
    { input },
  );
  return data[name];
}

const ENTRY = 'entry { id }';

before(async () => {
  env = await createTestEnvironment();
  admin = env.adminClient.withToken(env.token('admin'));
  await mutate('setLocale', { code: 'en' });
  await mutate('createContentType', {
    key: 'banner',
    name: 'Banner',
    fields: [{ key: 'headline', kind: 'TEXT', required: true, localized: true }],
  });
});
after(() => env?.destroy());

test('variants are authored through GraphQL, validated, and chosen with their reason', async () => {
  const bad = await mutate(
    'createEntry',
    {
      type: 'banner',
      key: 'bad',
      fields: { en: { headline: 'Hi' } },
      variants: [{ key: 'pro', audience: { condition: { op: 'nope', args: {} } }, fields: {} }],
    },
    ENTRY,
  );
  assert.equal(bad.__typename, 'ValidationError');
  assert.match(bad.field, /^variants\[0\]\.audience/);

  const created = await mutate(
    'createEntry',
    {
      type: 'banner',
      key: 'home',
      fields: { en: { headline: 'Welcome' } },
      variants: [
        {
          key: 'pro',
          audience: {
            condition: { op: 'trait', args: { trait: 'plan', comparator: 'equals', value: 'pro' } },
          },
          fields: { en: { headline: 'Welcome back, pro' } },
        },
      ],
    },
    ENTRY,
  );
  const id = created.entry.id;
  for (const step of ['submitEntry', 'approveEntry', 'publishEntry'])
    assert.ok((await mutate(step, { id }, ENTRY)).entry);

  const profileId = await env.atrium.orm.em.fork().transactional(async (em) => {
    const demo = await env.workspace('demo');
    const keys = [normaliseIdentity('user_id', 'pro-user')];
    const [pid] = (
      await resolveProfiles(em, demo.id, [{ keys, at: new Date(), source: 'test' }], defaultIdentityRules)
    ).profileIds;
    await sql(em, `update profile set traits = '{"plan":"pro"}' where id = $1`, [pid]);
    return pid as string;
  });
  const resolve = (profile?: string) =>
    admin.ok(
      `query ($p: ID) { resolveContent(key: "home", locale: "en", profileId: $p) { ... on ResolvedContent { fields reason variant { key } } } }`,
      { p: profile ? Buffer.from(`Profile:${profile}`).toString('base64') : null },
    );
  const pro = (await resolve(profileId)).resolveContent;
  assert.equal(pro.fields.headline, 'Welcome back, pro');
  assert.equal(pro.variant.key, 'pro');
  assert.match(pro.reason, /plan equals "pro"/);
  const anonymous = (await resolve()).resolveContent;
  assert.equal(anonymous.fields.headline, 'Welcome');
  assert.equal(anonymous.variant, null);
});
