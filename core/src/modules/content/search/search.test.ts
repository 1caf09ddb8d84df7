import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  createTestEnvironment,
  type GraphQLClient,
  type TestEnvironment,
  waitFor,
} from '../../../testing/index.ts';

let env: TestEnvironment;
let admin: GraphQLClient;
let reader: GraphQLClient;

const doc = (text: string) => ({ type: 'doc', children: [{ type: 'paragraph', children: [{ text }] }] });

async function mutate(name: string, input: Record<string, unknown>, client = admin) {
  const type = `${name[0]?.toUpperCase()}${name.slice(1)}`;
  const data = await client.ok(
    `mutation ($input: ${type}Input!) { ${name}(input: $input) { __typename ... on Error { message } } }`,
    { input },
  );
  assert.equal(data[name].__typename, `${type}Payload`, JSON.stringify(data[name]));
}

/** Creates, reviews and publishes an entry the way editors do; returns its global id. */
async function publish(key: string, fields: Record<string, unknown>, visibility = 'PUBLIC'): Promise<string> {
  const created = await admin.ok(
    `mutation ($input: CreateEntryInput!) { createEntry(input: $input) { ... on CreateEntryPayload { entry { id } } ... on Error { message } } }`,
    { input: { type: 'article', key, fields } },
  );
  const id = created.createEntry.entry?.id;
  assert.ok(id, JSON.stringify(created));
  if (visibility !== 'PUBLIC') await mutate('updateEntry', { id, visibility });
  await mutate('submitEntry', { id });
  await mutate('approveEntry', { id });
  await mutate('publishEntry', { id });
  return id;
}

const rawId = (id: string) => Buffer.from(id, 'base64').toString().split(':')[1] as string;
const SEARCH = `query ($q: String!, $locale: String) { search(query: $q, locale: $locale) { total hits { id locale highlights } } }`;

before(async () => {
  env = await createTestEnvironment();
  admin = env.adminClient.withToken(env.token('admin'));
  for (const [code, fallback] of [
    ['en', null],
    ['de', 'en'],
  ]) {
    await mutate('setLocale', { code, fallback });
  }
  await mutate('createContentType', {
    key: 'article',
    name: 'Article',
    schemaOrgType: 'Article',
    fields: [
      { key: 'title', kind: 'TEXT', required: true, localized: true },
      { key: 'body', kind: 'RICH_TEXT', localized: true },
    ],
  });
  const key = await admin.ok(
    `mutation { createApiKey(input: { name: "shop", role: READER }) { ... on CreateApiKeyPayload { secret } } }`,
  );
  reader = env.publicClient.withToken(key.createApiKey.secret);
});
after(() => env?.destroy());

test('published entries become findable, with stemming, typos and highlights, per locale', async () => {
  const returns = await publish('returns', {
    en: { title: 'Returning an order', body: doc('You can return any order within 30 days.') },
    de: { title: 'Rücksendung einer Bestellung', body: doc('Rücksendungen sind 30 Tage lang kostenlos.') },
  });
  await publish('invoices', { en: { title: 'Invoices', body: doc('Download your invoice as PDF.') } });
  const found = await waitFor(
    async () => {
      const r = (await admin.ok(SEARCH, { q: 'return', locale: 'en' })).search;
      return r.total > 0 ? r : null;
    },
    20000,
    'the entry to be indexed',
  );
  assert.equal(found.hits[0].id, rawId(returns));
  assert.match(JSON.stringify(found.hits[0].highlights), /<mark>/);

  await waitFor(
    async () => (await admin.ok(SEARCH, { q: 'invoice' })).search.total > 0,
    20000,
    'the invoice article',
  );
  const typo = (await admin.ok(SEARCH, { q: 'invoce', locale: 'en' })).search;
  assert.ok(typo.total >= 1, 'a typo still finds the invoice article');
  const german = (await admin.ok(SEARCH, { q: 'Rücksendungen', locale: 'de' })).search;
  assert.equal(german.hits[0]?.id, rawId(returns));
  assert.equal(german.hits[0]?.locale, 'de');
});

test('the Public graph finds public content only, and unpublishing removes it', async () => {
  const internal = await publish('agent-tip', { en: { title: 'Refund override for agents' } }, 'INTERNAL');
  const visible = await publish('refunds', { en: { title: 'Refunds explained' } });
  await waitFor(
    async () => (await admin.ok(SEARCH, { q: 'refund' })).search.total === 2,
    20000,
    'both indexed',
  );
  const publicHits = (await reader.ok(SEARCH, { q: 'refund' })).search.hits.map((h: { id: string }) => h.id);
  assert.deepEqual(publicHits, [rawId(visible)]);
  assert.ok(!publicHits.includes(rawId(internal)));

  await mutate('unpublishEntry', { id: visible });
  await waitFor(async () => (await reader.ok(SEARCH, { q: 'refund' })).search.total === 0, 20000, 'removal');
  const other = env.adminClient.withToken(env.token('admin', 'other'));
  assert.equal((await other.ok(SEARCH, { q: 'refund' })).search.total, 0, 'workspaces never see each other');
});
